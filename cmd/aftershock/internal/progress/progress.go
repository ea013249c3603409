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
