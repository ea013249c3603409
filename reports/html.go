package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"
)

// RenderHTML renders index.html: one self-contained page, with inline CSS
// and hand-written SVG, no script, font, stylesheet or image from anywhere
// else, readable offline. It shows the run's inputs and verdicts, then per
// scenario its steps with their status and error, the summary tables of
// RenderMarkdown, and charts drawn from the events on a shared time axis
// (seconds from the scenario's first event): Ready nodes per cluster,
// service availability per bucket with the floors the steps set, fault and
// reboot markers, and a swimlane of the recovery order. Each chart line is a
// polyline with class="series" and data-series naming its cluster or
// service. The output depends on j alone.
func RenderHTML(j Journal) ([]byte, error) {
	if err := checkTopology(j.Inputs.Topology); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	p := page{RunID: orDash(j.RunID), RunLine: runLine(j, func(s string) string { return s })}
	in := j.Inputs
	p.Inputs = append(p.Inputs,
		field{"Features", orDash(strings.Join(in.Features, ", "))},
		field{"Seed", fmt.Sprint(in.Seed)},
		field{"Provider", orDash(in.Provider)},
	)
	for _, k := range slices.Sorted(maps.Keys(in.Versions)) {
		p.Inputs = append(p.Inputs, field{"Version of " + k, in.Versions[k]})
	}
	if t := in.Topology; t != nil {
		p.Inputs = append(p.Inputs, field{"Topology", topologySummary(t)})
		for _, rc := range t.Clusters() {
			c := rc.Cluster
			p.Fleet = append(p.Fleet, []string{rc.Region.Name, string(rc.Region.Cloud), c.Name, string(c.Role),
				orDash(c.Parent), fmt.Sprint(c.ControlPlanes), fmt.Sprint(c.Workers)})
		}
	}
	for i := range j.Scenarios {
		sc := &j.Scenarios[i]
		v := newView(sc, j.Inputs.Topology)
		sp := scenarioPage{
			Anchor: fmt.Sprintf("scenario-%d", i+1),
			Index:  i + 1,
			Name:   sc.Name,
			Status: orDash(sc.Status),
			Steps:  sc.Steps,
		}
		if sc.Feature != "" {
			sp.Location = sc.Feature
			if sc.Line > 0 {
				sp.Location += fmt.Sprintf(":%d", sc.Line)
			}
		}
		runStart := j.Started
		if runStart.IsZero() {
			runStart = v.start
		}
		switch {
		case len(v.events) == 0:
			sp.Origin = "No events were recorded."
		case v.faulted:
			sp.Origin = fmt.Sprintf("Scenario's first event at %s from the run's start; first fault at %s on the charts' axis. Tables give offsets from the first fault.",
				offset(v.start, runStart), offset(v.fault, v.start))
		default:
			sp.Origin = fmt.Sprintf("Scenario's first event at %s from the run's start; no fault was injected.", offset(v.start, runStart))
		}
		if note := v.stopNote(); note != "" {
			sp.Origin += " Aborted: " + note
		}
		for _, sec := range sections(v) {
			sp.Sections = append(sp.Sections, htmlSection(sec))
		}
		sp.Ready, sp.ReadyLegend = readyChart(v)
		var bucket time.Duration
		sp.Availability, sp.AvailabilityLegend, bucket = availabilityChart(v)
		sp.Bucket = bucket.String()
		sp.Cloud, sp.CloudLegend = cloudChart(v)
		sp.Swimlane = swimlane(v)
		p.Scenarios = append(p.Scenarios, sp)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	return b.Bytes(), nil
}

// page is what the template renders.
type page struct {
	RunID, RunLine string
	Inputs         []field
	// Fleet is one row per cluster of the topology.
	Fleet     [][]string
	Scenarios []scenarioPage
}

type field struct{ Name, Value string }

type scenarioPage struct {
	Anchor                 string
	Index                  int
	Name, Status, Location string
	Origin                 string
	Steps                  []Step
	Sections               []htmlSectionData
	Ready, Availability    template.HTML
	Cloud                  template.HTML
	CloudLegend            []legendItem
	Swimlane               template.HTML
	ReadyLegend            []legendItem
	AvailabilityLegend     []legendItem
	Bucket                 string
}

// htmlSectionData is a section with its columns' alignment resolved.
type htmlSectionData struct {
	Title, Note, Text string
	Head              []htmlCell
	Rows              []htmlRow
}

type htmlCell struct {
	Text  string
	Right bool
}

type htmlRow struct {
	Cells  []htmlCell
	Strong bool
}

func htmlSection(s section) htmlSectionData {
	d := htmlSectionData{Title: s.title, Note: s.note, Text: s.text}
	right := func(i int) bool { return i < len(s.right) && s.right[i] }
	for i, h := range s.head {
		d.Head = append(d.Head, htmlCell{h, right(i)})
	}
	for _, r := range s.rows {
		hr := htmlRow{Strong: r.strong}
		for i, c := range r.cells {
			hr.Cells = append(hr.Cells, htmlCell{c, right(i)})
		}
		d.Rows = append(d.Rows, hr)
	}
	return d
}

// pageTemplate is index.html. It links nothing outside the page.
var pageTemplate = template.Must(template.New("index.html").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aftershock run {{.RunID}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328; margin: 0 auto; max-width: 1160px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 36px 0 6px; padding-top: 12px; border-top: 2px solid #d0d7de; }
h3 { font-size: 15px; margin: 22px 0 6px; }
h4 { font-size: 14px; margin: 14px 0 4px; }
code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
table { border-collapse: collapse; margin: 4px 0 10px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.strong td { font-weight: 600; background: #f6f8fa; }
.muted, .note { color: #59636e; }
.badge { display: inline-block; min-width: 58px; text-align: center; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; background: #eaeef2; color: #424a53; }
.badge.passed { background: #dafbe1; color: #116329; }
.badge.failed, .badge.undefined, .badge.pending, .badge.ambiguous { background: #ffebe9; color: #a40e26; }
.badge.aborted, .badge.skipped { background: #fff8c5; color: #7d4e00; }
ol.steps { padding-left: 28px; }
ol.steps li { margin: 3px 0; }
.kw { font-weight: 600; color: #6639ba; }
pre.error { white-space: pre-wrap; word-break: break-word; background: #fff5f5; border-left: 3px solid #cf222e; margin: 4px 0 8px; padding: 6px 10px; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
figure { margin: 8px 0 16px; }
figcaption { color: #59636e; font-size: 12px; margin-top: 2px; }
svg { display: block; max-width: 100%; height: auto; font-size: 11px; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .tick, svg .lane-label { fill: #59636e; }
svg .axis-label { fill: #59636e; font-style: italic; }
svg .group-label { font-weight: 600; fill: #1f2328; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .floor { stroke-width: 1.5; stroke-dasharray: 6 4; }
svg .floor-label { font-size: 11px; }
svg .marker { stroke-width: 1; opacity: 0.3; }
svg .degraded { fill: #fff1e5; }
svg .down { opacity: 0.9; }
svg .down.earlier { opacity: 0.35; }
svg .not-back { stroke: #a40e26; stroke-width: 1.5; stroke-dasharray: 3 2; }
svg .cp-outage { fill: #afb8c1; }
svg .action { stroke-width: 2; }
ul.legend { list-style: none; padding: 0; margin: 4px 0 0; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 12px; }
ul.legend svg { display: inline-block; vertical-align: middle; margin-right: 4px; }
.swatch { display: inline-block; width: 12px; height: 10px; vertical-align: middle; margin-right: 4px; }
</style>
</head>
<body>
<header>
<h1>aftershock run <code>{{.RunID}}</code></h1>
<p class="muted">{{.RunLine}}</p>
<table>
{{- range .Inputs}}
<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{- end}}
</table>
{{- if .Fleet}}
<table>
<tr><th>region</th><th>cloud</th><th>cluster</th><th>role</th><th>parent</th><th class="num">control planes</th><th class="num">workers</th></tr>
{{- range .Fleet}}
<tr>{{range $i, $c := .}}<td{{if ge $i 5}} class="num"{{end}}>{{$c}}</td>{{end}}</tr>
{{- end}}
</table>
{{- end}}
<h3>Verdicts</h3>
<table>
<tr><th class="num">#</th><th>scenario</th><th>verdict</th></tr>
{{- range .Scenarios}}
<tr><td class="num">{{.Index}}</td><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td><span class="badge {{.Status}}">{{.Status}}</span></td></tr>
{{- else}}
<tr><td></td><td>no scenario ran</td><td></td></tr>
{{- end}}
</table>
</header>
{{- range .Scenarios}}
<section id="{{.Anchor}}">
<h2>{{.Index}}. {{.Name}} <span class="badge {{.Status}}">{{.Status}}</span></h2>
{{- if .Location}}<p class="muted"><code>{{.Location}}</code></p>{{end}}
<p class="muted">{{.Origin}}</p>
<h3>Steps</h3>
{{- if .Steps}}
<ol class="steps">
{{- range .Steps}}
<li><span class="badge {{.Status}}">{{.Status}}</span> {{if .Keyword}}<span class="kw">{{.Keyword}}</span>{{end}}{{.Text}}{{if .Line}} <span class="muted">(line {{.Line}})</span>{{end}}
{{- if .Error}}<pre class="error">{{.Error}}</pre>{{end}}</li>
{{- end}}
</ol>
{{- else}}
<p class="muted">No steps were recorded.</p>
{{- end}}
<h3>Ready nodes per cluster</h3>
{{- if .Ready}}
<figure>
{{.Ready}}
<ul class="legend">
{{- range .ReadyLegend}}
<li><svg width="30" height="10" aria-hidden="true"><line x1="0" y1="5" x2="30" y2="5" stroke="{{.Color}}" stroke-width="2.5"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/></svg>{{.Name}}</li>
{{- end}}
<li><span class="swatch" style="background:#d62728;opacity:.6"></span>fault injected</li>
<li><span class="swatch" style="background:#2ca02c;opacity:.6"></span>reboot started</li>
<li><span class="swatch" style="background:#9467bd;opacity:.6"></span>other action started</li>
<li><span class="swatch" style="background:#fff1e5;border:1px solid #e0c8b0"></span>degraded window</li>
</ul>
<figcaption>Nodes whose latest readiness is Ready, per cluster; line style by region.</figcaption>
</figure>
{{- else}}
<p class="muted">No node readiness events.</p>
{{- end}}
<h3>Service availability</h3>
{{- if .Availability}}
<figure>
{{.Availability}}
<ul class="legend">
{{- range .AvailabilityLegend}}
<li><svg width="30" height="10" aria-hidden="true"><line x1="0" y1="5" x2="30" y2="5" stroke="{{.Color}}" stroke-width="2.5"/></svg>{{.Name}}</li>
{{- end}}
<li><svg width="30" height="10" aria-hidden="true"><line x1="0" y1="5" x2="30" y2="5" stroke="#59636e" stroke-width="1.5" stroke-dasharray="6 4"/></svg>floor set by a step</li>
</ul>
<figcaption>Share of ok probe requests per {{.Bucket}} bucket; markers as above.</figcaption>
</figure>
{{- else}}
<p class="muted">No service was probed.</p>
{{- end}}
{{- if .Cloud}}
<h3>Cloud API calls</h3>
<figure>
{{.Cloud}}
<ul class="legend">
{{- range .CloudLegend}}
<li><svg width="30" height="10" aria-hidden="true"><line x1="0" y1="5" x2="30" y2="5" stroke="{{.Color}}" stroke-width="2.5"/></svg>{{.Name}}</li>
{{- end}}
<li><svg width="30" height="10" aria-hidden="true"><line x1="0" y1="5" x2="30" y2="5" stroke="#59636e" stroke-width="1.5" stroke-dasharray="6 4"/></svg>throttled or shed</li>
</ul>
<figcaption>Calls per second to each cloud API, and how many of them were refused; markers as above.</figcaption>
</figure>
{{- end}}
<h3>Recovery order</h3>
{{- if .Swimlane}}
<figure>
{{.Swimlane}}
<figcaption>One lane per node NotReady at or after the first fault, clusters in the order they came back: a bar from the node's last NotReady to its Ready again (dashed outline: never back; pale bars: its earlier NotReady periods since the fault), ▼ its fault injections, a line under the bar its reboots. Grey bars in a cluster's row: its control plane unreachable.</figcaption>
</figure>
{{- else}}
<p class="muted">No node went NotReady after a fault.</p>
{{- end}}
{{- if .Sections}}
<h3>Summary</h3>
{{- end}}
{{- range .Sections}}
<h4>{{.Title}}</h4>
{{- if .Head}}
{{- if .Note}}<p class="note">{{.Note}}</p>{{end}}
<table>
<tr>{{range .Head}}<th{{if .Right}} class="num"{{end}}>{{.Text}}</th>{{end}}</tr>
{{- range .Rows}}
<tr{{if .Strong}} class="strong"{{end}}>{{range .Cells}}<td{{if .Right}} class="num"{{end}}>{{.Text}}</td>{{end}}</tr>
{{- end}}
</table>
{{- else}}
<p>{{.Text}}</p>
{{- end}}
{{- end}}
</section>
{{- end}}
</body>
</html>
`))
