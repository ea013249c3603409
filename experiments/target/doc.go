// Package target chooses the blast radius of a fault: which nodes of a fleet
// it hits and when. A Spec reads like the scenario phrase it comes from ("60%
// of nodes in all regions", "every parent control-plane node in us1", "2
// nodes of every child cluster"); Select turns it into a Selection that is
// stratified per cluster with its rounding reported, reproducible from a
// seed, and spread in time like systemd's OnCalendar with
// RandomizedDelaySec: each selected node's fault starts at T plus a uniform
// offset within the window. The package does no I/O.
package target
