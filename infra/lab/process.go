package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s in %s: %w", component, ns, err)
	}
	l.log.Debug("started", "component", component, "namespace", ns, "pid", cmd.Process.Pid, "log", logPath)
	go func() { _ = cmd.Wait() }() // reap; the namespace scan is what stops it
	return nil
}

// stopNamespaceProcesses stops every process living in the namespace: SIGTERM,
// then SIGKILL for whatever is still there after grace. It returns once none
// is left, or with an error naming the survivors.
func stopNamespaceProcesses(ctx context.Context, ns string, grace time.Duration) error {
	path := namespace.Path(ns)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	signalAll := func(sig syscall.Signal) ([]int, error) {
		pids, err := namespace.Processes(path)
		if err != nil {
			return nil, err
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig) // it may have exited already
		}
		return pids, nil
	}
	pids, err := signalAll(syscall.SIGTERM)
	if err != nil || len(pids) == 0 {
		return err
	}
	deadline := time.Now().Add(grace)
	killed := false
	for {
		left, err := namespace.Processes(path)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		switch {
		case !killed && time.Now().After(deadline):
			if _, err := signalAll(syscall.SIGKILL); err != nil {
				return err
			}
			killed = true
			deadline = time.Now().Add(5 * time.Second)
		case killed && time.Now().After(deadline):
			return fmt.Errorf("processes %v in %s survived SIGKILL", left, ns)
		}
		select {
		case <-ctx.Done():
			_, _ = signalAll(syscall.SIGKILL)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
