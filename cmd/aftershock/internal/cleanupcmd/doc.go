// Package cleanupcmd is `aftershock cleanup`: after a crash, a SIGKILL or an
// abort that could not finish, it reverts every fault that injection
// journals still record as injected, then tears down every lab those
// journals name (or, with --all, every lab and as-* namespace on the
// machine), saying for each node what happened to it.
package cleanupcmd
