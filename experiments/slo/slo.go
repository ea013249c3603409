package slo

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Result is one verdict: whether it held, and the evidence.
type Result struct {
	// Passed says whether the assertion held.
	Passed bool
	// Observed is what the timeline showed, e.g.
	// "58.3% (28 of 48 nodes) at 2023-11-08T06:00:12.345Z (+12.345s)".
	Observed string
	// Required is what the assertion demanded, e.g.
	// "at least 55.0% NotReady within 15s".
	Required string
	// Message is one line an SRE can read. On failure it names the
	// offending nodes, clusters or regions, the instant, and observed
	// against required.
	Message string
}

// stampLayout is RFC 3339 with milliseconds.
const stampLayout = "2006-01-02T15:04:05.000Z07:00"

// stamp formats t in UTC with its offset from base, e.g.
// "2023-11-08T06:00:12.345Z (+12.345s)".
func stamp(t, base time.Time) string {
	return t.UTC().Format(stampLayout) + " (" + offset(t.Sub(base)) + ")"
}

// offset formats d as signed seconds with milliseconds, e.g. "+12.345s".
func offset(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign = "-"
		if d == math.MinInt64 {
			d = math.MaxInt64
		} else {
			d = -d
		}
	}
	ms := d.Round(time.Millisecond) / time.Millisecond
	return fmt.Sprintf("%s%d.%03ds", sign, ms/1000, ms%1000)
}

// percent formats a fraction in [0, 1] as a percentage with one decimal.
func percent(f float64) string {
	return fmt.Sprintf("%.1f%%", 100*f)
}

// fraction is n/total, or 0 for an empty total.
func fraction(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// count is n and noun, made plural unless n is 1: "1 node", "3 nodes".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ofTotal is "n of total nouns", e.g. "28 of 48 nodes".
func ofTotal(n, total int, noun string) string {
	return fmt.Sprintf("%d of %s", n, count(total, noun))
}

// maxListed is how many names a message lists before "and N more".
const maxListed = 10

// list joins items with commas, cut after maxListed.
func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxListed], ", "), len(items)-maxListed)
}

// unique returns names without duplicates or empty names, in first-seen order.
func unique(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// setOf returns names as a set.
func setOf(names []string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

// invalid is the failed Result of an assertion called with bad arguments.
func invalid(required, format string, args ...any) Result {
	return Result{
		Observed: "not evaluated",
		Required: required,
		Message:  "invalid assertion: " + fmt.Sprintf(format, args...),
	}
}
