package reports

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// maxErrorBytes is how much of a failing step's error the summary quotes;
// index.html has all of it.
const maxErrorBytes = 1500

// RenderMarkdown renders summary.md: short enough for a pull-request
// comment. It gives the verdict per scenario with the failing step's error,
// then for each scenario the blast radius per region and cluster, the
// recovery order and the time to recover, control-plane outages, and the
// availability of every probed service before the first fault, during the
// degraded window and after recovery, against the floors its steps set.
// Times are offsets from the scenario's first fault; the run's absolute
// start time is given once. The output depends on j alone.
func RenderMarkdown(j Journal) ([]byte, error) {
	if err := checkTopology(j.Inputs.Topology); err != nil {
		return nil, fmt.Errorf("render summary.md: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# aftershock run %s\n\n", mdCode(orDash(j.RunID)))
	b.WriteString(runLine(j, mdText) + "\n\n")

	b.WriteString("| # | scenario | verdict |\n|---:|---|---|\n")
	for i, sc := range j.Scenarios {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", i+1, mdText(sc.Name), verdict(sc.Status))
	}
	if len(j.Scenarios) == 0 {
		b.WriteString("| | no scenario ran | |\n")
	}
	for i := range j.Scenarios {
		sc := &j.Scenarios[i]
		v := newView(sc, j.Inputs.Topology)
		fmt.Fprintf(&b, "\n## %d. %s — %s\n\n", i+1, mdText(sc.Name), verdict(sc.Status))
		writeOrigin(&b, j, v)
		if note := v.stopNote(); note != "" {
			fmt.Fprintf(&b, "\n**Aborted:** %s\n", mdText(note))
		}
		writeFailure(&b, sc)
		for _, sec := range sections(v) {
			writeSection(&b, sec)
		}
	}
	b.WriteString("\nFull report: [index.html](index.html)\n")
	return b.Bytes(), nil
}

// runLine is the run's one line of facts: start, duration and inputs.
func runLine(j Journal, text func(string) string) string {
	var parts []string
	if !j.Started.IsZero() {
		p := "started " + stamp(j.Started)
		if j.Ended.After(j.Started) {
			p += ", lasted " + seconds(j.Ended.Sub(j.Started))
		}
		parts = append(parts, p)
	}
	in := j.Inputs
	if in.Provider != "" {
		parts = append(parts, "provider "+text(in.Provider))
	}
	parts = append(parts, fmt.Sprintf("seed %d", in.Seed))
	if in.Topology != nil {
		parts = append(parts, "topology "+text(topologySummary(in.Topology)))
	}
	if len(in.Features) > 0 {
		fs := make([]string, len(in.Features))
		for i, f := range in.Features {
			fs[i] = text(f)
		}
		parts = append(parts, "features "+strings.Join(fs, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(in.Versions)) {
		parts = append(parts, text(k)+" "+text(in.Versions[k]))
	}
	s := strings.Join(parts, " · ")
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// verdict is a scenario status with a mark a reader sees at a glance.
func verdict(status string) string {
	switch status {
	case StatusPassed:
		return "✅ passed"
	case StatusFailed:
		return "❌ failed"
	case StatusAborted:
		return "⚠️ aborted"
	}
	return "❔ " + mdText(orDash(status))
}

// writeOrigin says where the scenario comes from and what offsets count
// from.
func writeOrigin(b *bytes.Buffer, j Journal, v *view) {
	var parts []string
	if v.sc.Feature != "" {
		loc := v.sc.Feature
		if v.sc.Line > 0 {
			loc += fmt.Sprintf(":%d", v.sc.Line)
		}
		parts = append(parts, mdCode(loc))
	}
	runStart := j.Started
	if runStart.IsZero() {
		runStart = v.start
	}
	switch {
	case len(v.events) == 0:
		parts = append(parts, "no events recorded")
	case v.faulted:
		parts = append(parts, fmt.Sprintf("first fault at %s from the run's start; times below are offsets from it", offset(v.fault, runStart)))
	default:
		parts = append(parts, fmt.Sprintf("no fault injected; times below are offsets from the scenario's first event, %s from the run's start", offset(v.start, runStart)))
	}
	b.WriteString(strings.Join(parts, " · ") + "\n")
}

// writeFailure quotes the failing (or interrupted) step and its error.
func writeFailure(b *bytes.Buffer, sc *Scenario) {
	for _, s := range sc.Steps {
		label := ""
		switch s.Status {
		case "failed":
			label = "Failed step"
		case "undefined", "pending", "ambiguous":
			label = "Failed step (" + s.Status + ")"
		case stepAborted:
			label = "Interrupted during"
		default:
			continue
		}
		fmt.Fprintf(b, "\n**%s:** %s", label, mdText(strings.TrimSpace(s.Keyword+s.Text)))
		if s.Line > 0 {
			fmt.Fprintf(b, " (line %d)", s.Line)
		}
		b.WriteString("\n")
		if s.Error != "" {
			fence := codeFence(s.Error)
			fmt.Fprintf(b, "\n%stext\n%s\n%s\n", fence, clip(s.Error, maxErrorBytes), fence)
		}
		return
	}
	if sc.Status == StatusFailed || sc.Status == StatusAborted {
		b.WriteString("\nNo failing step was recorded.\n")
	}
}

// writeSection writes a summary section: a bold title with its note, then
// its table or its text.
func writeSection(b *bytes.Buffer, sec section) {
	if sec.head == nil {
		fmt.Fprintf(b, "\n**%s:** %s\n", mdText(sec.title), mdText(sec.text))
		return
	}
	fmt.Fprintf(b, "\n**%s**", mdText(sec.title))
	if sec.note != "" {
		b.WriteString(" — " + mdText(sec.note))
	}
	b.WriteString("\n\n|")
	for _, h := range sec.head {
		b.WriteString(" " + mdText(h) + " |")
	}
	b.WriteString("\n|")
	for i := range sec.head {
		if i < len(sec.right) && sec.right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range sec.rows {
		b.WriteString("|")
		for i, c := range r.cells {
			c = mdText(c)
			if r.strong && i == 0 && c != "" {
				c = "**" + c + "**"
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
}

// listed joins names, cut after n.
func listed(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// mdReplacer escapes what Markdown would interpret in a table cell.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `&lt;`, `>`, `&gt;`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ",
)

// mdText escapes s for Markdown inline text and table cells.
func mdText(s string) string { return mdReplacer.Replace(s) }

// mdCode is s as a code span, with a fence that s cannot close.
func mdCode(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "|", `\|`).Replace(s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// codeFence is a fence for a code block that s cannot close.
func codeFence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
