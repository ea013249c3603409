// Command aftershock-service runs one shard or replica of a lab service (see
// package service). The embedded lab starts it inside a node's network
// namespace with `ip netns exec`. It is a binary of its own, without
// client-go, because a lab runs hundreds of them.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/aftershock-sre/aftershock/infra/service"
)

func main() {
	cfg, err := service.ParseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := service.Run(ctx, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
