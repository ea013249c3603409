package terraform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// expand fills a node's values into an action's argv template. For exec,
// command is placed at {{command}} (shell-quoted) or {{argv}}, or appended.
func expand(tmpl []string, n Node, cloud string, command []string) []string {
	values := map[string]string{
		"id": n.ID, "name": n.Name, "address": n.Address,
		"region": n.Region, "cluster": n.Cluster, "cloud": cloud,
		"command": quoteArgv(command),
	}
	var out []string
	placed := false
	for _, arg := range tmpl {
		if arg == "{{argv}}" {
			out = append(out, command...)
			placed = true
			continue
		}
		if slices.Contains(placeholdersIn(arg), "command") {
			placed = true
		}
		out = append(out, replacePlaceholders(arg, values))
	}
	if !placed {
		out = append(out, command...)
	}
	return out
}

func replacePlaceholders(s string, values map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(values[strings.TrimSpace(s[i+2:i+j])])
		s = s[i+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// quoteArgv joins argv into one POSIX shell command line.
func quoteArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if shellSafe.MatchString(a) {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

// stderrTailBytes is how much of a failed command's stderr an error keeps.
const stderrTailBytes = 2048

// runner runs action commands. Each child gets its own process group and
// SIGKILL if this process dies; cancelling ctx sends the group SIGTERM, then
// SIGKILL after killGrace.
type runner struct {
	// progress, if not nil, receives the commands' stderr as it comes.
	progress  io.Writer
	killGrace time.Duration
}

// run runs argv and returns its stdout. A failure is an *ActionError.
func (r runner) run(ctx context.Context, action, node string, argv []string) ([]byte, error) {
	var stdout bytes.Buffer
	tail := &tailBuffer{max: stderrTailBytes}
	var stderr io.Writer = tail
	if r.progress != nil {
		stderr = io.MultiWriter(tail, r.progress)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = r.killGrace
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	err := onLockedThread(cmd.Run)
	if err == nil {
		return stdout.Bytes(), nil
	}
	code := -1
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		code = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		code, err = -1, fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return stdout.Bytes(), &ActionError{Action: action, Node: node, Argv: argv, ExitCode: code, Stderr: tail.String(), Err: err}
}

// onLockedThread runs fn on an OS thread that no other goroutine uses until
// fn returns. Pdeathsig fires when the thread that forked a child exits, and
// the Go runtime retires threads whose goroutine exits while locked to them
// (network-namespace dialers do): a child forked from such a thread would be
// killed at random. A thread locked to fn cannot be retired under it.
func onLockedThread(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- fn()
	}()
	return <-done
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.buf), "")
	if t.cut {
		return "…" + s
	}
	return s
}
