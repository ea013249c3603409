// Package labtest helps tests run real labs: it builds the real node agent
// and service binaries once per test binary, so that tests run the same
// programs as aftershock does.
package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binaries are the lab's companion programs, built for a test run.
type Binaries struct {
	Agent, Service string
}

// Main is a TestMain body: it builds the binaries into *bins, runs the tests,
// removes the binaries and exits with the tests' code.
func Main(m *testing.M, bins *Binaries) {
	dir, err := Build(bins)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// Build compiles cmd/aftershock-agent and cmd/aftershock-service into a fresh
// temporary folder, fills in bins, and returns the folder.
func Build(bins *Binaries) (string, error) {
	dir, err := os.MkdirTemp("", "aftershock-bin-")
	if err != nil {
		return "", err
	}
	build := exec.Command("go", "build", "-o", dir+"/",
		"github.com/aftershock-sre/aftershock/cmd/aftershock-agent",
		"github.com/aftershock-sre/aftershock/cmd/aftershock-service")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("build the lab's binaries: %w", err)
	}
	bins.Agent = filepath.Join(dir, "aftershock-agent")
	bins.Service = filepath.Join(dir, "aftershock-service")
	return dir, nil
}
