package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlainLinesOnEveryTenthAndPhaseChange(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf) // a buffer is no terminal: plain lines
	for i := 0; i <= 20; i++ {
		p.Update("network", i, 20)
	}
	p.Update("nodes Ready", 0, 20)
	p.Update("nodes Ready", 0, 20) // no news, no line
	p.Update("nodes Ready", 20, 20)
	p.Update("nodes Ready", 20, 20)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"network: 0/20", "network: 2/20", "network: 4/20", "network: 6/20", "network: 8/20",
		"network: 10/20", "network: 12/20", "network: 14/20", "network: 16/20", "network: 18/20", "network: 20/20",
		"nodes Ready: 0/20", "nodes Ready: 20/20"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("got lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("plain output must not redraw with carriage returns")
	}
}

func TestStatusPrintsPlainLinesOnNewKeysOnly(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf)
	p.Status("s/1", "step 1: a | NotReady 0")
	p.Status("s/1", "step 1: a | NotReady 3") // same step: no new line in CI
	p.Status("s/2", "step 2: b | NotReady 5")
	out := p.Passthrough(&buf)
	_, _ = out.Write([]byte("godog output\n"))
	want := "step 1: a | NotReady 0\nstep 2: b | NotReady 5\ngodog output\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
