// Package fault injects faults into nodes and reverts them: every Fault has
// Inject and an idempotent Revert that restores exactly what Inject removed,
// from a snapshot taken, and journalled, before anything is removed. The
// first fault is NetworkdRestart, the 2023 trigger: through netlink, inside
// the node's network namespace and without ever moving the calling thread
// into it, it deletes the routing-policy rules (and routes) that
// systemd-networkd ≥ v248 considers foreign when it restarts. InjectAll and
// RevertAll fan a set of faults out over many nodes with bounded
// parallelism, and RevertFromJournal reverts what a crashed run left behind.
// Faults never touch the host's network namespace, and an Interlock confines
// them to the namespaces their run created or was given, pinned by inode.
package fault
