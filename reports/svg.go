package reports

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// Chart geometry, in SVG user units. Every chart of a scenario shares the
// same x axis: the same left margin, width and time scale, so that a fault
// marker lines up across them.
const (
	chartWidth  = 1100.0
	plotLeft    = 190.0 // room for the swimlane's node names
	plotRight   = 24.0
	plotTop     = 16.0
	plotHeight  = 220.0
	axisHeight  = 40.0
	laneHeight  = 16.0
	groupHeight = 20.0
	// maxLanes caps the swimlane; the rest are counted, not drawn.
	maxLanes = 400
	// maxBuckets caps the availability chart's buckets: past it, buckets
	// widen beyond 1 s.
	maxBuckets = 1800
)

// palette colours series in order (Tableau 10, readable on white).
var palette = [...]string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// dashes tell regions apart when series overlap: solid, dashed, dotted, …
var dashes = [...]string{"", "7 4", "2 3", "10 3 2 3"}

// Marker colours: a fault injection, a reboot and any other action.
const (
	faultColor  = "#d62728"
	rebootColor = "#2ca02c"
	actionColor = "#9467bd"
)

// legendItem is one entry of a chart's legend.
type legendItem struct {
	Name, Color, Dash string
}

// timeAxis maps instants of one scenario to x.
type timeAxis struct {
	start time.Time
	span  float64 // seconds, > 0
}

func newTimeAxis(v *view) timeAxis {
	span := v.end.Sub(v.start).Seconds()
	if !(span > 0) {
		span = 1
	}
	return timeAxis{start: v.start, span: span}
}

// sec is t in seconds from the scenario's first event.
func (a timeAxis) sec(t time.Time) float64 { return t.Sub(a.start).Seconds() }

// x is the x coordinate of t.
func (a timeAxis) x(t time.Time) float64 { return a.xs(a.sec(t)) }

// xs is the x coordinate of s seconds from the start, clamped to the plot.
func (a timeAxis) xs(s float64) float64 {
	f := min(max(s/a.span, 0), 1)
	return plotLeft + f*(chartWidth-plotLeft-plotRight)
}

// svgWriter builds an SVG document; every text goes through esc.
type svgWriter struct {
	b strings.Builder
}

func (w *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&w.b, format, args...) }

// esc escapes s for SVG text and attribute values.
func esc(s string) string { return html.EscapeString(s) }

func (w *svgWriter) open(height float64, label string) {
	w.printf(`<svg viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s">`,
		chartWidth, height, chartWidth, height, esc(label))
}

func (w *svgWriter) html() template.HTML {
	w.printf("</svg>")
	return template.HTML(w.b.String()) // every text in it went through esc
}

// timeTicks draws the x grid and labels between top and bottom.
func (w *svgWriter) timeTicks(a timeAxis, top, bottom float64) {
	step := niceStep(a.span, 12)
	for s := 0.0; s <= a.span+step/1e6; s += step {
		x := a.xs(s)
		w.printf(`<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x, top, x, bottom)
		w.printf(`<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, bottom+14, esc(tickLabel(s, step)))
	}
	w.printf(`<text class="axis-label" x="%.1f" y="%.1f" text-anchor="end">seconds from the scenario's first event</text>`,
		chartWidth-plotRight, bottom+32)
}

// markers draws a vertical line at every fault injection and every action
// start, and shades the degraded window.
func (w *svgWriter) markers(v *view, a timeAxis, top, bottom float64) {
	if v.faulted {
		end := v.end
		if v.recovered {
			end = v.allBack
		}
		x1, x2 := a.x(v.fault), a.x(end)
		w.printf(`<rect class="degraded" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>degraded window %s → %s</title></rect>`,
			x1, top, max(x2-x1, 0), bottom-top, esc(offset(v.fault, a.start)), esc(offset(end, a.start)))
	}
	for _, e := range v.events {
		color, what := "", ""
		switch {
		case e.Kind == experiments.KindFault && e.Status == "injected":
			color, what = faultColor, "fault"
		case e.Kind == experiments.KindAction && e.Status == "started":
			color, what = actionColor, "action"
			if e.Name == "reboot" {
				color, what = rebootColor, "reboot"
			}
		default:
			continue
		}
		x := a.x(e.Time)
		w.printf(`<line class="marker" data-marker="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"><title>%s</title></line>`,
			what, x, top, x, bottom, color, esc(fmt.Sprintf("%s %s %s on %s at %s", orDash(e.Name), e.Kind, e.Status, orDash(e.Node), offset(e.Time, a.start))))
	}
}

// readyChart draws the number of Ready nodes per cluster over time, one
// step-shaped polyline per cluster.
func readyChart(v *view) (template.HTML, []legendItem) {
	counts := map[string]int{} // cluster -> Ready nodes now
	status := map[string]string{}
	type point struct {
		t time.Time
		n int
	}
	series := map[string][]point{}
	for _, e := range v.events {
		if e.Kind != experiments.KindNodeReady || e.Node == "" {
			continue
		}
		c := v.nodeCluster[e.Node]
		if status[e.Node] == experiments.Ready {
			counts[c]--
		}
		status[e.Node] = e.Status
		if e.Status == experiments.Ready {
			counts[c]++
		}
		ps := series[c]
		if len(ps) > 0 && ps[len(ps)-1].t.Equal(e.Time) {
			ps[len(ps)-1].n = counts[c]
		} else {
			ps = append(ps, point{e.Time, counts[c]})
		}
		series[c] = ps
	}
	if len(series) == 0 {
		return "", nil
	}
	names := v.seriesOrder(slices.Collect(maps.Keys(series)))
	top := 1
	for _, c := range names {
		top = max(top, len(v.clusterNodes(c)))
		for _, p := range series[c] {
			top = max(top, p.n)
		}
	}
	a := newTimeAxis(v)
	bottom := plotTop + plotHeight
	y := func(n int) float64 { return bottom - float64(n)/float64(top)*plotHeight }
	var w svgWriter
	w.open(bottom+axisHeight, "Ready nodes per cluster over time")
	w.markers(v, a, plotTop, bottom)
	step := max(1, int(niceStep(float64(top), 6)))
	for n := 0; n <= top; n += step {
		w.printf(`<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, plotLeft, y(n), chartWidth-plotRight, y(n))
		w.printf(`<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%d</text>`, plotLeft-6, y(n)+4, n)
	}
	w.printf(`<text class="axis-label" x="%.1f" y="%.1f" text-anchor="end">Ready nodes</text>`, plotLeft-30, plotTop+plotHeight/2)
	w.timeTicks(a, plotTop, bottom)
	var legend []legendItem
	for _, c := range names {
		color, dash := v.colorOf(c), v.dashOf(c)
		var pts []string
		prev := 0
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", a.xs(0), y(0)))
		for _, p := range series[c] {
			x := a.x(p.t)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y(prev)), fmt.Sprintf("%.1f,%.1f", x, y(p.n)))
			prev = p.n
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", a.x(v.end), y(prev)))
		w.printf(`<polyline class="series" data-series="%s" points="%s" stroke="%s"%s><title>%s</title></polyline>`,
			esc(clusterName(c)), strings.Join(pts, " "), color, dashAttr(dash), esc(clusterName(c)))
		name := fmt.Sprintf("%s (%d nodes)", clusterName(c), len(v.clusterNodes(c)))
		if cv := v.byCluster[c]; cv != nil && cv.launched > 0 {
			name = fmt.Sprintf("%s (%d nodes, %d launched)", clusterName(c), len(v.clusterNodes(c))-cv.launched, cv.launched)
		}
		legend = append(legend, legendItem{Name: name, Color: color, Dash: dash})
	}
	return w.html(), legend
}

// availabilityChart draws each service's share of ok requests per bucket
// (1 s, wider for long scenarios), with a dashed line per floor its steps
// set. It returns the bucket width too.
func availabilityChart(v *view) (template.HTML, []legendItem, time.Duration) {
	if len(v.services) == 0 {
		return "", nil, 0
	}
	a := newTimeAxis(v)
	bucket := time.Second
	if n := a.span; n > maxBuckets {
		bucket = time.Duration(math.Ceil(n/maxBuckets)) * time.Second
	}
	type count struct{ ok, total int }
	buckets := map[string]map[int64]*count{}
	for _, e := range v.events {
		if e.Kind != experiments.KindRequest || e.Name == "" {
			continue
		}
		if buckets[e.Name] == nil {
			buckets[e.Name] = map[int64]*count{}
		}
		i := int64(e.Time.Sub(v.start) / bucket)
		c := buckets[e.Name][i]
		if c == nil {
			c = &count{}
			buckets[e.Name][i] = c
		}
		c.total++
		if e.Status == experiments.OK {
			c.ok++
		}
	}
	bottom := plotTop + plotHeight
	y := func(pct float64) float64 { return bottom - pct/100*plotHeight }
	var w svgWriter
	w.open(bottom+axisHeight, "Service availability over time")
	w.markers(v, a, plotTop, bottom)
	for pct := 0.0; pct <= 100; pct += 25 {
		w.printf(`<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, plotLeft, y(pct), chartWidth-plotRight, y(pct))
		w.printf(`<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%.0f%%</text>`, plotLeft-6, y(pct)+4, pct)
	}
	w.printf(`<text class="axis-label" x="%.1f" y="%.1f" text-anchor="end">ok requests</text>`, plotLeft-44, plotTop+plotHeight/2)
	w.timeTicks(a, plotTop, bottom)
	var legend []legendItem
	// One label per floor level, naming every service held to it.
	levels := map[float64][]string{}
	for i, s := range v.services {
		color := palette[i%len(palette)]
		for _, f := range s.floors {
			w.printf(`<line class="floor" data-floor="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"><title>%s</title></line>`,
				esc(s.name), plotLeft, y(f.percent), chartWidth-plotRight, y(f.percent), color, esc(s.name+" floor: "+f.step.Text))
			if !slices.Contains(levels[f.percent], s.name) {
				levels[f.percent] = append(levels[f.percent], s.name)
			}
		}
	}
	for _, pct := range slices.Sorted(maps.Keys(levels)) {
		names := levels[pct]
		color := "#59636e"
		if len(names) == 1 {
			color = palette[slices.IndexFunc(v.services, func(s serviceView) bool { return s.name == names[0] })%len(palette)]
		}
		w.printf(`<text class="floor-label" x="%.1f" y="%.1f" text-anchor="end" fill="%s">%s</text>`,
			chartWidth-plotRight-4, y(pct)-4, color, esc(fmt.Sprintf("floor %s%%: %s", trimFloat(pct), strings.Join(names, ", "))))
	}
	for i, s := range v.services {
		color := palette[i%len(palette)]
		idx := slices.Sorted(maps.Keys(buckets[s.name]))
		pts := make([]string, 0, len(idx))
		for _, i := range idx {
			c := buckets[s.name][i]
			mid := (float64(i) + 0.5) * bucket.Seconds()
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", a.xs(min(mid, a.span)), y(100*float64(c.ok)/float64(c.total))))
		}
		w.printf(`<polyline class="series" data-series="%s" points="%s" stroke="%s"><title>%s</title></polyline>`,
			esc(s.name), strings.Join(pts, " "), color, esc(s.name))
		legend = append(legend, legendItem{Name: s.name, Color: color})
	}
	return w.html(), legend, bucket
}

// cloudChart draws the cloud API's calls and throttled calls per second, per
// API, the way the 2023 postmortem graphed CreateNetworkInterface: a solid
// line of calls and a dashed line of throttled (or shed) ones.
func cloudChart(v *view) (template.HTML, []legendItem) {
	type count struct{ calls, refused int }
	perAPI := map[string]map[int64]*count{}
	for _, e := range v.events {
		if e.Kind != experiments.KindCloudCall || e.Name == "" {
			continue
		}
		if perAPI[e.Name] == nil {
			perAPI[e.Name] = map[int64]*count{}
		}
		i := int64(e.Time.Sub(v.start) / time.Second)
		c := perAPI[e.Name][i]
		if c == nil {
			c = &count{}
			perAPI[e.Name][i] = c
		}
		c.calls++
		if e.Status == "throttled" || e.Status == "shed" {
			c.refused++
		}
	}
	if len(perAPI) == 0 {
		return "", nil
	}
	peak := 1
	for _, buckets := range perAPI {
		for _, c := range buckets {
			peak = max(peak, c.calls)
		}
	}
	a := newTimeAxis(v)
	bottom := plotTop + plotHeight
	y := func(n float64) float64 { return bottom - n/float64(peak)*plotHeight }
	var w svgWriter
	w.open(bottom+axisHeight, "Cloud API calls and throttles per second")
	w.markers(v, a, plotTop, bottom)
	step := niceCount(float64(peak), 4)
	for n := 0.0; n <= float64(peak); n += step {
		w.printf(`<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, plotLeft, y(n), chartWidth-plotRight, y(n))
		w.printf(`<text class="tick" x="%.1f" y="%.1f" text-anchor="end">%.0f</text>`, plotLeft-6, y(n)+4, n)
	}
	w.printf(`<text class="axis-label" x="%.1f" y="%.1f" text-anchor="end">calls/s</text>`, plotLeft-44, plotTop+plotHeight/2)
	w.timeTicks(a, plotTop, bottom)
	var legend []legendItem
	for i, api := range slices.Sorted(maps.Keys(perAPI)) {
		color := palette[i%len(palette)]
		idx := slices.Sorted(maps.Keys(perAPI[api]))
		var calls, refused []string
		for _, b := range idx {
			c := perAPI[api][b]
			x := a.xs(min(float64(b)+0.5, a.span))
			calls = append(calls, fmt.Sprintf("%.1f,%.1f", x, y(float64(c.calls))))
			refused = append(refused, fmt.Sprintf("%.1f,%.1f", x, y(float64(c.refused))))
		}
		w.printf(`<polyline class="series" data-series="%s" points="%s" stroke="%s"><title>%s</title></polyline>`,
			esc(api+" calls"), strings.Join(calls, " "), color, esc(api+" calls per second"))
		w.printf(`<polyline class="series" data-series="%s" points="%s" stroke="%s" stroke-dasharray="6 4"><title>%s</title></polyline>`,
			esc(api+" throttled"), strings.Join(refused, " "), color, esc(api+" throttled or shed per second"))
		legend = append(legend, legendItem{Name: api, Color: color})
	}
	return w.html(), legend
}

// swimlane draws the recovery order: one lane per disrupted node, grouped by
// cluster in the order the clusters came back, with a bar from the node's
// last NotReady to its Ready again, its fault injections and its reboots.
// A cluster's header lane shows its control plane's unreachable periods.
func swimlane(v *view) template.HTML {
	if !v.faulted || (len(v.recoveries) == 0 && len(v.outages) == 0) {
		return ""
	}
	byCluster := map[string][]nodeRecovery{}
	for _, r := range v.recoveries {
		byCluster[r.cluster] = append(byCluster[r.cluster], r)
	}
	outages := map[string][]outage{}
	for _, o := range v.outages {
		outages[o.cluster] = append(outages[o.cluster], o)
	}
	var clusters []string
	listed := map[string]bool{}
	for _, c := range v.recoveryOrder() {
		clusters = append(clusters, c.name)
		listed[c.name] = true
	}
	if _, ok := byCluster[""]; ok {
		clusters = append(clusters, "")
	}
	for _, c := range v.clusters {
		if len(outages[c.name]) > 0 && !listed[c.name] {
			clusters = append(clusters, c.name)
		}
	}
	faults, actions := map[string][]experiments.Event{}, map[string][]experiments.Event{}
	for _, e := range v.events {
		switch {
		case e.Kind == experiments.KindFault && e.Status == "injected":
			faults[e.Node] = append(faults[e.Node], e)
		case e.Kind == experiments.KindAction:
			actions[e.Node] = append(actions[e.Node], e)
		}
	}

	lanes, hidden := 0, 0
	for _, c := range clusters {
		lanes += len(byCluster[c])
	}
	if lanes > maxLanes {
		hidden = lanes - maxLanes
	}
	height := plotTop + float64(len(clusters))*groupHeight + float64(lanes-hidden)*laneHeight
	a := newTimeAxis(v)
	var w svgWriter
	w.open(height+axisHeight, "Recovery order: NotReady periods per node")
	w.markers(v, a, plotTop, height)
	w.timeTicks(a, plotTop, height)
	yy, drawn := plotTop, 0
	for _, c := range clusters {
		color := v.colorOf(c)
		role := ""
		if cv := v.byCluster[c]; cv != nil && cv.role != "" {
			role = " (" + cv.role + ")"
		}
		w.printf(`<g class="lane-group" data-cluster="%s">`, esc(clusterName(c)))
		w.printf(`<text class="group-label" x="4" y="%.1f">%s</text>`, yy+14, esc(clusterName(c)+role))
		for _, o := range outages[c] {
			to, label := o.to, "back at "+offset(o.to, v.fault)
			if to.IsZero() {
				to, label = v.end, "not back"
			}
			x1, x2 := a.x(o.from), a.x(to)
			w.printf(`<rect class="cp-outage" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				x1, yy+5, max(x2-x1, 1), groupHeight-10,
				esc(fmt.Sprintf("%s control plane unreachable from %s (from the first fault), %s", clusterName(c), offset(o.from, v.fault), label)))
		}
		yy += groupHeight
		nodes := byCluster[c]
		slices.SortStableFunc(nodes, func(p, q nodeRecovery) int {
			if p.recovered != q.recovered {
				if p.recovered {
					return -1
				}
				return 1
			}
			return cmp.Or(p.back.Compare(q.back), v.compareNodes(p.node, q.node))
		})
		for _, r := range nodes {
			if drawn == maxLanes {
				break
			}
			drawn++
			w.printf(`<text class="lane-label" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, plotLeft-6, yy+12, esc(r.node))
			for _, run := range v.downRuns[r.node] {
				if !run.from.Before(r.down) {
					break
				}
				x1, x2 := a.x(run.from), a.x(run.to)
				w.printf(`<rect class="down earlier" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
					x1, yy+3, max(x2-x1, 1), laneHeight-6, color,
					esc(fmt.Sprintf("%s NotReady from %s to %s (from the first fault)", r.node, offset(run.from, v.fault), offset(run.to, v.fault))))
			}
			end, class, label := r.back, "down", "Ready again at "+offset(r.back, v.fault)
			if !r.recovered {
				end, class, label = v.end, "down not-back", "never Ready again"
			}
			x1, x2 := a.x(r.down), a.x(end)
			w.printf(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
				class, x1, yy+3, max(x2-x1, 1), laneHeight-6, color,
				esc(fmt.Sprintf("%s NotReady from %s, %s (from the first fault)", r.node, offset(r.down, v.fault), label)))
			for _, e := range faults[r.node] {
				x := a.x(e.Time)
				w.printf(`<path class="fault-tick" d="M%.1f %.1fl-4 -5h8z" fill="%s"><title>%s</title></path>`,
					x, yy+laneHeight/2, faultColor, esc(fmt.Sprintf("%s injected at %s", orDash(e.Name), offset(e.Time, v.fault))))
			}
			w.actionSpans(actions[r.node], a, yy, v)
			yy += laneHeight
		}
		w.printf(`</g>`)
	}
	if hidden > 0 {
		w.printf(`<text class="tick" x="%.1f" y="%.1f">%d more nodes not drawn</text>`, plotLeft, height+axisHeight-4, hidden)
	}
	return w.html()
}

// actionSpans draws each action on a node from its start to its end as a
// thin line over the lane.
func (w *svgWriter) actionSpans(events []experiments.Event, a timeAxis, yy float64, v *view) {
	var start *experiments.Event
	for i, e := range events {
		switch e.Status {
		case "started":
			start = &events[i]
		case "finished", "failed":
			if start == nil || start.Name != e.Name {
				continue
			}
			color := actionColor
			if e.Name == "reboot" {
				color = rebootColor
			}
			x1, x2 := a.x(start.Time), a.x(e.Time)
			w.printf(`<line class="action" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"><title>%s</title></line>`,
				x1, yy+laneHeight-2, max(x2, x1+1), yy+laneHeight-2, color,
				esc(fmt.Sprintf("%s %s → %s (%s)", orDash(e.Name), offset(start.Time, v.fault), offset(e.Time, v.fault), e.Status)))
			start = nil
		}
	}
}

// seriesOrder sorts cluster names as v.clusters does.
func (v *view) seriesOrder(names []string) []string {
	slices.SortFunc(names, v.compareClusters)
	return names
}

// colorOf is a cluster's colour, the same in every chart.
func (v *view) colorOf(cluster string) string {
	return palette[max(0, v.clusterIndex(cluster))%len(palette)]
}

// dashOf is the dash pattern of a cluster's region.
func (v *view) dashOf(cluster string) string {
	if c := v.byCluster[cluster]; c != nil {
		return dashes[c.regionRank%len(dashes)]
	}
	return ""
}

// clusterNodes are a cluster's known nodes.
func (v *view) clusterNodes(name string) []string {
	if c := v.byCluster[name]; c != nil {
		return c.nodes
	}
	return nil
}

// dashAttr is a stroke-dasharray attribute, or nothing for a solid line.
func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, d)
}

// niceStep is a round step (1, 2, 5 × 10^k, or 15, 30 s and whole minutes
// and hours for time) that cuts span into at most n parts.
func niceStep(span float64, n int) float64 {
	if !(span > 0) || math.IsInf(span, 0) {
		return 1
	}
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400} {
		if span/s <= float64(n) {
			return s
		}
	}
	return math.Pow(10, math.Ceil(math.Log10(span/float64(n))))
}

// niceCount is a 1, 2 or 5 times a power of ten step that cuts span (a
// count) into at most n steps, and at least 1.
func niceCount(span float64, n int) float64 {
	if !(span > 0) || math.IsInf(span, 0) {
		return 1
	}
	for p := 1.0; ; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if span/(m*p) <= float64(n) {
				return m * p
			}
		}
	}
}

// tickLabel formats a tick at s seconds: "30s", "2m", "1.5s".
func tickLabel(s, step float64) string {
	if step >= 60 && math.Mod(s, 60) == 0 {
		return fmt.Sprintf("%.0fm", s/60)
	}
	if step < 1 {
		return fmt.Sprintf("%.1fs", s)
	}
	return fmt.Sprintf("%.0fs", s)
}
