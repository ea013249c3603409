// Package experiments is the engine's core vocabulary: the append-only
// Timeline of time-stamped events that every verdict and report is computed
// from, and the Clock the engine reads time from, so that a model can later
// run the same features in virtual time.
package experiments
