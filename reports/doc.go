// Package reports turns a run's evidence into what people read: it writes and
// reads the versioned journal (journal.json, documented in docs/journal.md),
// the one file that records a run's inputs and every scenario's timeline of
// experiments.Event, and renders a journal, and nothing else, into a short
// Markdown summary for a pull-request comment (summary.md) and a
// self-contained HTML report with hand-drawn SVG charts (index.html): Ready
// nodes per cluster, service availability with its floors, fault and reboot
// markers on a shared time axis, and a swimlane of the recovery order.
// Rendering is deterministic and does no I/O; only WriteJournal and
// ReadJournal touch files.
package reports
