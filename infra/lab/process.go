package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
)

// startProcess runs argv inside the named namespace through `ip netns exec`,
// logging to <dir>/logs/<ns>/<component>.log.
//
// Attached processes get SIGKILL when this process dies, so a crashed test
// leaves nothing running; detached ones (aftershock lab up) outlive it in a
// session of their own, and are found again by their namespace.
func (l *Lab) startProcess(ns, component string, argv []string) error {
	logDir := filepath.Join(l.state.Dir, "logs", ns)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("log folder for %s: %w", component, err)
	}
	logPath := filepath.Join(logDir, component+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log file for %s: %w", component, err)
	}
	defer logFile.Close()

	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), l.opts.ProcessEnv...)
	if l.opts.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := l.spawn(cmd); err != nil {
		return fmt.Errorf("start %s in %s: %w", component, ns, err)
	}
	l.log.Debug("started", "component", component, "namespace", ns, "pid", cmd.Process.Pid, "log", logPath)
	go func() { _ = cmd.Wait() }() // reap; the namespace scan is what stops it
	return nil
}

// spawner starts processes from one OS thread that lives as long as the lab.
//
// Pdeathsig fires when the *thread* that forked a child exits, not the
// process. Go destroys threads whose goroutine exits while locked to them
// (as nsnet does with a thread it cannot bring home), so a child forked from
// an arbitrary thread could be killed at random. Forking from a dedicated, locked thread makes Pdeathsig
// mean "when the lab's owner dies".
type spawner struct {
	requests chan spawnRequest
	stop     chan struct{}
	once     sync.Once
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{requests: make(chan spawnRequest), stop: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: when the lab is down the thread dies, and with
		// it any straggler that still has it as its parent thread.
		for {
			select {
			case r := <-s.requests:
				r.done <- r.cmd.Start()
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	select {
	case s.requests <- spawnRequest{cmd: cmd, done: done}:
		return <-done
	case <-s.stop:
		return errors.New("the lab is down")
	}
}

func (s *spawner) close() { s.once.Do(func() { close(s.stop) }) }

// spawn starts cmd: detached processes from any thread, attached ones from
// the lab's spawner thread.
func (l *Lab) spawn(cmd *exec.Cmd) error {
	if l.opts.Detach {
		return cmd.Start()
	}
	return l.spawner.start(cmd)
}

// stopProcesses stops every process living in the named namespaces: SIGTERM,
// then SIGKILL for whatever is still there after grace. It returns once none
// is left, or with an error naming the survivors. One /proc scan serves all
// the namespaces, so tearing down hundreds of nodes stays fast.
func stopProcesses(ctx context.Context, names []string, grace time.Duration) error {
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = namespace.Path(n)
	}
	found, err := namespace.ProcessesIn(paths)
	if err != nil {
		return err
	}
	var pids []int
	for _, p := range found {
		pids = append(pids, p...)
	}
	signal := func(sig syscall.Signal) {
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig) // it may have exited already
		}
	}
	signal(syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	killed := false
	for len(pids) > 0 {
		pids = stillRunning(pids)
		if len(pids) == 0 {
			return nil
		}
		switch {
		case !killed && time.Now().After(deadline):
			signal(syscall.SIGKILL)
			killed = true
			deadline = time.Now().Add(5 * time.Second)
		case killed && time.Now().After(deadline):
			return fmt.Errorf("processes %v in %v survived SIGKILL", pids, names)
		}
		select {
		case <-ctx.Done():
			signal(syscall.SIGKILL)
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// stillRunning keeps the pids that have not exited yet. A zombie has
// exited, and its parent reaps it, but only once its last thread is gone:
// the main thread of a Go program (kube-apiserver) can be a zombie while
// other threads still hold its listening sockets, and a restart would find
// the port in use.
func stillRunning(pids []int) []int {
	var left []int
	for _, pid := range pids {
		if running(pid) {
			left = append(left, pid)
		}
	}
	return left
}

// running reads /proc/<pid>/status: gone, or a zombie with no other thread,
// is not running.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	zombie, threads := false, 1
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "State:"):
			zombie = strings.Contains(line, "Z") || strings.Contains(line, "X")
		case strings.HasPrefix(line, "Threads:"):
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")), "%d", &threads)
		}
	}
	return !zombie || threads > 1
}
