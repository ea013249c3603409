package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aftershock-sre/aftershock/experiments"
)

var update = flag.Bool("update", false, "rewrite testdata/summary.golden.md from the fixture")

func TestRenderMarkdownGolden(t *testing.T) {
	got, err := RenderMarkdown(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "summary.golden.md")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("summary.md differs from %s (run go test ./reports -update and review the diff):\n%s", golden, got)
	}
}

// TestRenderMarkdownFacts checks the numbers the golden file holds, so that
// an -update cannot silently bless a wrong one.
func TestRenderMarkdownFacts(t *testing.T) {
	md, err := RenderMarkdown(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// Verdicts, with the failing step's error quoted whole.
		"| 1 | networkd restarts on half the fleet | ❌ failed |",
		"| 2 | interrupted while the fleet boots | ⚠️ aborted |",
		"**Failed step:** " + mdText(stepTagIndex),
		failure,
		"**Interrupted during:** all nodes are Ready",
		// Blast radius: us1-parent-w0 of 2, us1-app1-w0 of 2, eu1-parent-cp0 of 2.
		"| us1 | us1-parent | parent | 1 of 2 (50.0%) | 1 of 2 (50.0%) |",
		"| **us1** | all clusters |  | 2 of 4 (50.0%) | 2 of 4 (50.0%) |",
		"| **eu1** | all clusters |  | 1 of 2 (50.0%) | 1 of 2 (50.0%) |",
		// First fault at 2.5 s: eu1-parent back at 13 s, us1-parent at 15 s,
		// us1-app1's last (the rebooted w0) at 20 s.
		"| 1 | eu1-parent | parent | eu1 | 1 of 1 | +10.500s | eu1-parent-cp0 |",
		"| 2 | us1-parent | parent | us1 | 1 of 1 | +12.500s | us1-parent-w0 |",
		"| 3 | us1-app1 | child | us1 | 2 of 2 | +17.500s | us1-app1-w0 |",
		"parent control-plane nodes 10.500s (1 of 1 back) · parent workers 12.500s (1 of 1 back) · child cluster nodes 17.500s (2 of 2 back) · all nodes 17.500s (4 of 4 back)",
		"us1-app1 +3.000s → +13.000s · eu1-parent +4.000s → +10.500s",
		// Degraded window 2.5 s → 20 s. metrics-intake: w0 fails 3.5..20 s.
		"degraded window +0.000s → +17.500s",
		"| metrics-intake | 100.0% (6 of 6) | 54.2% (39 of 72) | 100.0% (78 of 78) | ≥ 99.5% passed |",
		"| tag-index | 100.0% (3 of 3) | 44.4% (16 of 36) | 100.0% (39 of 39) | ≥ 90% failed |",
		"Started 2023-03-08T06:00:00.000Z, lasted 51.000s",
		"Full report: [index.html](index.html)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(string(md), "2023-03-08T") != 1 {
		t.Errorf("summary.md gives more than one absolute time:\n%s", md)
	}
}

func TestRenderDeterministic(t *testing.T) {
	for name, render := range map[string]func(Journal) ([]byte, error){"markdown": RenderMarkdown, "html": RenderHTML} {
		t.Run(name, func(t *testing.T) {
			first, err := render(fixtureJournal())
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				again, err := render(fixtureJournal())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first, again) {
					t.Fatal("two renders of the same journal differ")
				}
			}
		})
	}
}

func TestRenderHTMLSelfContained(t *testing.T) {
	page, err := RenderHTML(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	lower := strings.ToLower(html)
	for _, banned := range []string{"http://", "https://", "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "src=", "@font-face"} {
		if strings.Contains(lower, banned) {
			t.Errorf("index.html contains %q", banned)
		}
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(m[1], "#") {
			t.Errorf("index.html links outside the page: %s", m[0])
		}
	}
	if !strings.Contains(html, "<style>") {
		t.Error("index.html has no inline style")
	}
}

// charts returns each <svg> of the page by its aria-label.
func charts(t *testing.T, html string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<svg [^>]*aria-label="([^"]+)"[^>]*>.*?</svg>`).FindAllStringSubmatch(html, -1) {
		out[m[1]] += m[0]
	}
	return out
}

func TestRenderHTMLSeries(t *testing.T) {
	page, err := RenderHTML(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	svgs := charts(t, string(page))
	series := regexp.MustCompile(`<polyline class="series" data-series="([^"]*)"`)
	values := func(svg string, re *regexp.Regexp) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(svg, -1) {
			out = append(out, m[1])
		}
		return out
	}
	floors := regexp.MustCompile(`<line class="floor" data-floor="([^"]*)" x1="[^"]*" y1="([^"]*)"`)
	tests := []struct {
		chart string
		re    *regexp.Regexp
		want  []string
	}{
		{"Ready nodes per cluster over time", series, []string{"us1-parent", "us1-app1", "eu1-parent"}},
		{"Service availability over time", series, []string{"metrics-intake", "tag-index"}},
		// Floors: 99.5% and 90% of a 220-unit plot starting at 16.
		{"Service availability over time", floors, []string{"metrics-intake", "tag-index"}},
		{"Recovery order: NotReady periods per node", series, nil},
		{"Recovery order: NotReady periods per node", regexp.MustCompile(`<text class="lane-label"[^>]*>([^<]*)<`),
			[]string{"eu1-parent-cp0", "us1-parent-w0", "us1-app1-w1", "us1-app1-w0"}},
		{"Recovery order: NotReady periods per node", regexp.MustCompile(`<g class="lane-group" data-cluster="([^"]*)"`),
			[]string{"eu1-parent", "us1-parent", "us1-app1"}},
		// Markers: three faults and three reboots, on every chart.
		{"Ready nodes per cluster over time", regexp.MustCompile(`data-marker="([^"]*)"`),
			[]string{"fault", "fault", "fault", "reboot", "reboot", "reboot"}},
	}
	for _, tt := range tests {
		t.Run(tt.chart, func(t *testing.T) {
			svg, ok := svgs[tt.chart]
			if !ok {
				t.Fatalf("no chart %q; charts: %v", tt.chart, reflect.ValueOf(svgs).MapKeys())
			}
			if got := values(svg, tt.re); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: got %q, want %q", tt.re, got, tt.want)
			}
		})
	}
	// The floor lines sit at their percentages.
	for _, m := range floors.FindAllStringSubmatch(svgs["Service availability over time"], -1) {
		want := map[string]string{"metrics-intake": "17.1", "tag-index": "38.0"}[m[1]]
		if m[2] != want {
			t.Errorf("floor of %s at y=%s, want %s", m[1], m[2], want)
		}
	}
}

func TestRenderHTMLContent(t *testing.T) {
	page, err := RenderHTML(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"<title>aftershock run fixture-run</title>",
		// The step error, escaped.
		"us1 at worst &lt;b&gt;0.0%&lt;/b&gt; (0 of 2) | see &amp; fix",
		`<span class="badge failed">failed</span> ` + "&#34;tag-index&#34; keeps serving at least 90% of requests in every region",
		`<span class="badge aborted">aborted</span> all nodes are Ready`,
		`<a href="#scenario-2">interrupted while the fleet boots</a>`,
		// Inputs.
		"<tr><th>Seed</th><td>42</td></tr>",
		"<tr><th>Version of aftershock</th><td>v0.0.0-test</td></tr>",
		"fixture: 2 regions, 3 clusters, 6 nodes",
		// The summary tables.
		"<td>us1-app1</td><td>child</td><td>us1</td><td>2 of 2</td><td class=\"num\">&#43;17.500s</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(html, "<b>0.0%") {
		t.Error("index.html carries the step error's markup unescaped")
	}
}

func TestRenderRefusesAHugeFleet(t *testing.T) {
	j := fixtureJournal()
	j.Inputs.Topology.Regions[0].Clusters[1].Workers = MaxTopologyNodes
	for name, render := range map[string]func(Journal) ([]byte, error){"markdown": RenderMarkdown, "html": RenderHTML} {
		if out, err := render(j); err == nil || out != nil || !strings.Contains(err.Error(), "more than 1000000 nodes") {
			t.Errorf("%s: %d bytes, error %v; want no output and an error on the fleet's size", name, len(out), err)
		}
	}
}

// The cloud API chart appears when a run called the cloud, with a calls and
// a throttled series per API, and not otherwise.
func TestRenderHTMLCloudChart(t *testing.T) {
	const title = "Cloud API calls and throttles per second"
	plain, err := RenderHTML(fixtureJournal())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := charts(t, string(plain))[title]; ok {
		t.Error("a run without cloud calls has a cloud chart")
	}
	j := fixtureJournal()
	for ms := 2000; ms < 6000; ms += 10 {
		outcome := "ok"
		if ms%100 != 0 {
			outcome = "throttled"
		}
		j.Scenarios[0].Events = append(j.Scenarios[0].Events, experiments.Event{
			Time: at(float64(ms) / 1000), Kind: experiments.KindCloudCall, Name: "CreateNetworkInterface", Status: outcome})
	}
	j.Scenarios[0].Events = append(j.Scenarios[0].Events, experiments.Event{
		Time: at(3), Kind: experiments.KindCloudCall, Name: "RunInstances", Status: "ok"})
	page, err := RenderHTML(j)
	if err != nil {
		t.Fatal(err)
	}
	svg, ok := charts(t, string(page))[title]
	if !ok {
		t.Fatal("no cloud chart for a run that called the cloud")
	}
	var got []string
	for _, m := range regexp.MustCompile(`<polyline class="series" data-series="([^"]*)"`).FindAllStringSubmatch(svg, -1) {
		got = append(got, m[1])
	}
	want := []string{"CreateNetworkInterface calls", "CreateNetworkInterface throttled", "RunInstances calls", "RunInstances throttled"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("cloud series %v, want %v", got, want)
	}
}
