package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// agentBinary is the real aftershock-agent, built once for the lab tests.
var agentBinary string

// TestMain builds cmd/aftershock-agent, so that the lab tests run the same
// node agent as aftershock does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aftershock-agent-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBinary = filepath.Join(dir, AgentBinary)
	build := exec.Command("go", "build", "-o", agentBinary, "github.com/aftershock-sre/aftershock/cmd/aftershock-agent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the node agent:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
