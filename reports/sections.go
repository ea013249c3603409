package reports

import (
	"fmt"
	"github.com/aftershock-sre/aftershock/experiments"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// section is one part of a scenario's summary, as plain text that each
// renderer escapes its own way: a table when head is set, a line otherwise.
type section struct {
	title string
	// note follows the title of a table.
	note string
	head []string
	// right marks the columns aligned right (numbers).
	right []bool
	rows  []row
	// text is the body of a section without a table.
	text string
}

// row is one table row; strong rows are totals.
type row struct {
	cells  []string
	strong bool
}

// sections is a scenario's summary: blast radius, recovery order, time to
// recover, control-plane outages and availability, each when there is
// evidence for it.
func sections(v *view) []section {
	var out []section
	if s, ok := sloSection(v); ok {
		out = append(out, s)
	}
	if s, ok := blastSection(v); ok {
		out = append(out, s)
	}
	out = append(out, recoverySections(v)...)
	if s, ok := availabilitySection(v); ok {
		out = append(out, s)
	}
	return out
}

// sloSection is every assertion step's SLO: what it required, what the
// timeline showed, and whether it held, in step order.
func sloSection(v *view) (section, bool) {
	s := section{title: "SLOs", head: []string{"step", "required", "observed", "result"}}
	for _, e := range v.events {
		if e.Kind != experiments.KindVerdict {
			continue
		}
		result := "✅ held"
		if e.Status != "passed" {
			result = "❌ broken"
		}
		s.rows = append(s.rows, row{cells: []string{e.Name, orDash(e.Detail["required"]), orDash(e.Detail["observed"]), result}})
	}
	return s, len(s.rows) > 0
}

// blastSection is the selected and injected nodes per cluster, with a total
// per region.
func blastSection(v *view) (section, bool) {
	if len(v.clusters) == 0 {
		return section{}, false
	}
	var faults []string
	for _, name := range slices.Sorted(maps.Keys(v.faults)) {
		var counts []string
		for _, st := range slices.Sorted(maps.Keys(v.faults[name])) {
			counts = append(counts, fmt.Sprintf("%d %s", v.faults[name][st], orDash(st)))
		}
		faults = append(faults, orDash(name)+" "+strings.Join(counts, ", "))
	}
	s := section{
		title: "Blast radius",
		note:  "no fault events",
		head:  []string{"region", "cluster", "role", "selected", "injected"},
		right: []bool{false, false, false, true, true},
	}
	if len(faults) > 0 {
		s.note = strings.Join(faults, "; ")
	}
	type total struct {
		nodes, selected, injected int
		last                      int // index of the region's last cluster
	}
	totals := map[string]*total{}
	for i, c := range v.clusters {
		t := totals[c.region]
		if t == nil {
			t = &total{}
			totals[c.region] = t
		}
		t.nodes += len(c.nodes) - c.launched
		t.selected += c.selected
		t.injected += c.injected
		t.last = i
	}
	for i, c := range v.clusters {
		s.rows = append(s.rows, row{cells: []string{orDash(c.region), c.name, orDash(c.role),
			ratio(c.selected, len(c.nodes)-c.launched), ratio(c.injected, len(c.nodes)-c.launched)}})
		if t := totals[c.region]; t.last == i {
			s.rows = append(s.rows, row{strong: true, cells: []string{orDash(c.region), "all clusters", "",
				ratio(t.selected, t.nodes), ratio(t.injected, t.nodes)}})
		}
	}
	return s, true
}

// recoverySections are the recovery order per cluster, the time to recover
// per group and the control-plane outages, all after the first fault.
func recoverySections(v *view) []section {
	if !v.faulted {
		return nil
	}
	order := v.recoveryOrder()
	if len(order) == 0 {
		return []section{{title: "Recovery", text: "no node was NotReady at or after the first fault."}}
	}
	s := section{
		title: "Recovery order",
		note:  "per cluster, when its last disrupted node was Ready again: its time to recover from the first fault",
		head:  []string{"#", "cluster", "role", "region", "nodes back", "last back", "last node"},
		right: []bool{true, false, false, false, false, true, false},
	}
	for i, c := range order {
		back := fmt.Sprintf("%d of %d", c.back, c.disrupted)
		last, node := "—", "—"
		if c.back > 0 {
			last, node = offset(c.last, v.fault), c.lastNode
		}
		if len(c.notBack) > 0 {
			back += "; not back: " + listed(c.notBack, 5)
		}
		s.rows = append(s.rows, row{cells: []string{strconv.Itoa(i + 1), clusterName(c.name), orDash(c.role), orDash(c.region), back, last, node}})
	}
	out := []section{s}

	var groups []string
	for _, g := range v.groups {
		switch {
		case g.Disrupted == 0:
			groups = append(groups, g.Group+" not disrupted")
		case g.Recovered == 0:
			groups = append(groups, fmt.Sprintf("%s none of %d back", g.Group, g.Disrupted))
		default:
			t := fmt.Sprintf("%s %s (%d of %d back", g.Group, seconds(g.TimeToRecover), g.Recovered, g.Disrupted)
			if g.Recovered < g.Disrupted {
				t += "; a lower bound"
			}
			groups = append(groups, t+")")
		}
	}
	out = append(out, section{title: "Time to recover (from the first fault)", text: strings.Join(groups, " · ")})

	if len(v.outages) > 0 {
		var outs []string
		for _, o := range v.outages {
			to := "not back"
			if !o.to.IsZero() {
				to = offset(o.to, v.fault)
			}
			outs = append(outs, fmt.Sprintf("%s %s → %s", o.cluster, offset(o.from, v.fault), to))
		}
		out = append(out, section{title: "Control planes unreachable", text: strings.Join(outs, " · ")})
	}
	return out
}

// availabilitySection is each service's availability per window, with the
// floors its steps set.
func availabilitySection(v *view) (section, bool) {
	if len(v.services) == 0 {
		return section{}, false
	}
	s := section{
		title: "Availability",
		head:  []string{"service", "before fault", "degraded window", "after recovery", "floors (steps)"},
		right: []bool{false, true, true, true, false},
	}
	if v.faulted {
		s.note = fmt.Sprintf("degraded window %s → %s (%s)", offset(v.during.from, v.origin), offset(v.during.to, v.origin), degradedUntil(v))
		if v.after.ok {
			s.note += fmt.Sprintf(", after recovery %s → %s", offset(v.after.from, v.origin), offset(v.after.to, v.origin))
		}
	}
	for _, sv := range v.services {
		var fs []string
		for _, f := range sv.floors {
			fs = append(fs, floorText(f))
		}
		s.rows = append(s.rows, row{cells: []string{sv.name, percentOf(sv.before), percentOf(sv.during), percentOf(sv.after),
			orDash(strings.Join(fs, ", "))}})
	}
	return s, true
}

// degradedUntil says what ends the degraded window.
func degradedUntil(v *view) string {
	switch {
	case v.recovered:
		return "first fault → every disrupted node Ready again"
	case len(v.recoveries) == 0:
		return "first fault → end: no node went NotReady"
	}
	return "first fault → end: some nodes never came back"
}
