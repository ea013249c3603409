// Command aftershock-agent is the lab's node agent, a kubelet stand-in that
// the embedded lab starts inside each node's network namespace. It is a binary
// of its own, without client-go, because a lab runs hundreds of them.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aftershock-sre/aftershock/infra/lab/agent"
)

func main() {
	cfg, err := agent.ParseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := agent.Run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
