package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/lab/agent"
)

// TestMain lets the test binary double as the node agent: the lab starts
// "<test binary> agent ..." inside each node's namespace, exactly as it
// starts "aftershock agent ..." in production.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		cfg, err := agent.ParseArgs(os.Args[2:])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := agent.Run(context.Background(), cfg, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
