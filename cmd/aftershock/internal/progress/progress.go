package progress

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Printer renders "phase: done/total" updates.
type Printer struct {
	mu       sync.Mutex
	w        io.Writer
	live     bool
	phase    string
	lastTick int
	lastDone int
	drawn    bool
	// statusKey is the key of the last plain status line printed.
	statusKey string
}

// New returns a Printer for w. It redraws in place only when w is a terminal
// and CI is not set.
func New(w io.Writer) *Printer {
	live := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == "" {
		live = true
	}
	return &Printer{w: w, live: live}
}

// Update records that done of total items of phase are finished.
func (p *Printer) Update(phase string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s: %d/%d", phase, done, total)
	if p.live {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		if done == total {
			fmt.Fprintln(p.w)
			p.drawn = false
		}
		return
	}
	if phase == p.phase && done == p.lastDone {
		return
	}
	tick := 0
	if total > 0 {
		tick = done * 10 / total
	}
	if phase != p.phase || tick != p.lastTick || done == total {
		fmt.Fprintln(p.w, line)
	}
	p.phase, p.lastTick, p.lastDone = phase, tick, done
}

// Done ends a live line, if one is drawn.
func (p *Printer) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// Status shows a one-line status of a long run. On a terminal the line is
// redrawn in place; elsewhere a plain line is printed whenever key changes
// (a new step, say), so CI logs stay short.
func (p *Printer) Status(key, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if key != p.statusKey {
		fmt.Fprintln(p.w, line)
		p.statusKey = key
	}
}

// Passthrough returns a writer for other output that clears the live status
// line before each write, so the two never tangle on a terminal.
func (p *Printer) Passthrough(w io.Writer) io.Writer { return passthrough{p: p, w: w} }

type passthrough struct {
	p *Printer
	w io.Writer
}

func (t passthrough) Write(b []byte) (int, error) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.p.drawn {
		fmt.Fprint(t.p.w, "\r\033[K")
		t.p.drawn = false
	}
	return t.w.Write(b)
}
