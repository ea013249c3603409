package lab

import (
	"fmt"
	"os"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/lab/labtest"
)

// agentBinary is the real aftershock-agent, built once for the lab tests.
var agentBinary string

func TestMain(m *testing.M) {
	path, cleanup, err := labtest.BuildAgent()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBinary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}
