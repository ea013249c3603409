// Package journal is the on-disk record that makes faults crash-safe: every
// fault writes what it is about to change, and the snapshot it needs to undo
// it, to an append-only file before it changes anything, so that `aftershock
// cleanup` can revert after a crash or a SIGKILL.
//
// # Format
//
// A journal is a JSON-lines file (mode 0600): one Entry per line, each line a
// JSON object terminated by "\n", for example
//
//	{"time":"2023-03-08T06:12:31.5Z","id":"r1/as-r1-us1-n3/networkd-restart/1","fault":"networkd-restart","node":"as-r1-us1-n3","netns":"/run/netns/as-r1-us1-n3","state":"injecting","snapshot":{"rules":[...],"routes":[...]}}
//
// Fields: "time" (RFC 3339, when the line was written), "id" (unique per
// injection, e.g. "<run>/<node>/<fault>/<n>"), "fault" (the fault's name),
// "node", "netns" (the path of the node's network namespace, if any),
// "state" (one of injecting, injected, reverting, reverted, failed),
// "snapshot" (fault-specific JSON: everything needed to undo the injection;
// omitted when empty) and "error" (why a step failed, or a note such as
// "target gone: <path>"; omitted when empty), "netnsInode" (the inode of the
// namespace when the fault was injected, so that a revert can tell a
// replaced node), and "run", "stateRoot" and "provider" (the fleet the entry
// belongs to). All of these are omitted when empty. Readers ignore unknown
// fields.
//
// An entry whose fault is "fleet" (FleetFault) records a fleet the run
// created rather than an injection, e.g.
//
//	{"time":"…","id":"fleet/r1","fault":"fleet","state":"injected","run":"r1","stateRoot":"/tmp/aftershock","provider":"lab"}
//
// It stays pending until the fleet is torn down, so that `aftershock
// cleanup` tears down what a crashed run left, even before its first fault.
//
// An injection's lines appear in the order they happened; its latest line is
// its state. A fault writes "injecting" with its snapshot before it deletes
// anything, then "injected"; a revert writes "reverting" then "reverted";
// "failed" records a step that did not complete. Record fsyncs every line
// before it returns, so a line that was acknowledged survives a crash. A crash
// in the middle of a write can leave a truncated last line: Read ignores it,
// and Open cuts it off before appending. Any other malformed line is an error
// that names its line number. Blank lines are skipped.
package journal
