// Package action carries out what operators and clouds do to nodes during a
// scenario, such as rebooting the broken nodes group by group with a bounded
// parallelism, and records every action on the timeline.
package action
