package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/infra/topology"
)

// stampLayout is RFC 3339 in UTC with milliseconds, as slo's messages use.
const stampLayout = "2006-01-02T15:04:05.000Z07:00"

// stamp formats an absolute time.
func stamp(t time.Time) string {
	return t.UTC().Format(stampLayout)
}

// offset formats t-base as signed seconds with milliseconds: "+12.345s".
func offset(t, base time.Time) string {
	d := t.Sub(base)
	sign := "+"
	if d < 0 {
		sign = "-"
		if d == math.MinInt64 {
			d = math.MaxInt64
		} else {
			d = -d
		}
	}
	return sign + seconds(d)
}

// seconds formats a non-negative duration as seconds with milliseconds:
// "12.345s".
func seconds(d time.Duration) string {
	ms := d.Round(time.Millisecond) / time.Millisecond
	return fmt.Sprintf("%d.%03ds", ms/1000, ms%1000)
}

// percentOf formats ok of total as "62.3% (1234 of 1980)".
func percentOf(s share) string {
	if !s.measured {
		return "—"
	}
	if s.total == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%.1f%% (%d of %d)", 100*float64(s.ok)/float64(s.total), s.ok, s.total)
}

// ratio formats n of total with the share: "6 of 11 (54.5%)".
func ratio(n, total int) string {
	if total == 0 {
		return fmt.Sprintf("%d of 0", n)
	}
	return fmt.Sprintf("%d of %d (%.1f%%)", n, total, 100*float64(n)/float64(total))
}

// floorText formats a floor as "≥ 35%" with the step's status.
func floorText(f floor) string {
	return fmt.Sprintf("≥ %s%% %s", trimFloat(f.percent), orDash(f.step.Status))
}

// trimFloat formats a percentage without needless decimals: 35, 99.5.
func trimFloat(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

// orDash is s, or an em dash when s is empty.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// clusterName names a cluster, including the pseudo-cluster of nodes whose
// events name none.
func clusterName(name string) string {
	if name == "" {
		return "(no cluster)"
	}
	return name
}

// topologySummary is one line on a fleet: "two-regions (preset:two-regions):
// 2 regions, 6 clusters, 22 nodes".
func topologySummary(t *topology.Topology) string {
	name := orDash(t.Name)
	if t.Source != "" && t.Source != "preset:"+t.Name {
		name += " (" + t.Source + ")"
	}
	return fmt.Sprintf("%s: %d regions, %d clusters, %d nodes", name, len(t.Regions), len(t.Clusters()), len(t.Nodes()))
}

// clip shortens s to at most n bytes (on a rune boundary), saying how much
// was left out.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
