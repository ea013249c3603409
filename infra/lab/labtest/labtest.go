// Package labtest helps tests in other packages run real labs: it builds the
// real node agent once per test binary, so that tests run the same agent as
// aftershock does.
package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main is a TestMain body: it builds the agent into *agent, runs the tests,
// removes the agent and exits with the tests' code.
func Main(m *testing.M, agent *string) {
	path, cleanup, err := BuildAgent()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*agent = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// BuildAgent compiles cmd/aftershock-agent into a fresh temporary folder and
// returns its path and a function that removes the folder.
func BuildAgent() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "aftershock-agent-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	path = filepath.Join(dir, "aftershock-agent")
	build := exec.Command("go", "build", "-o", path, "github.com/aftershock-sre/aftershock/cmd/aftershock-agent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build the node agent: %w", err)
	}
	return path, cleanup, nil
}
