package kind

// CNIRulePriorities are the priorities of the rules the CNI installs on
// every node, for the external tests.
var CNIRulePriorities = []int{cniToPriority, cniLocalPriority, cniFromPriority, cniForwardPriority}
