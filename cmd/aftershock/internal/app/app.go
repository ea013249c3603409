package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/cleanupcmd"
	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/injectcmd"
	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/labcmd"
	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/runcmd"
)

// Streams are the command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs the command with the process's arguments and streams, and returns
// its exit code. SIGINT and SIGTERM cancel the command's context, so that
// whatever it started is torn down before it exits.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			fmt.Fprintln(os.Stderr, "aftershock: aborted:", err)
			return 130
		}
		fmt.Fprintln(os.Stderr, "aftershock:", err)
		return 1
	}
	return 0
}

// Run executes the command line args.
func Run(ctx context.Context, args []string, streams Streams) error {
	var verbose bool
	logger := slog.New(slog.DiscardHandler)
	root := &cobra.Command{
		Use:           "aftershock",
		Short:         "Chaos experiments for correlated global failure",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			if verbose {
				*logger = *slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			// client-go logs through klog; its retries while a control
			// plane is cut are expected, so they go to -v only.
			klog.SetSlogLogger(logger)
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log progress details to stderr")
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.AddCommand(
		labcmd.NewCommand(logger, streams.Out, streams.Err),
		runcmd.NewRunCommand(logger, streams.Out, streams.Err),
		runcmd.NewPlanCommand(streams.Out),
		runcmd.NewStepsCommand(streams.Out),
		runcmd.NewReportCommand(streams.Out),
		cleanupcmd.NewCommand(logger, streams.Out, streams.Err),
		injectcmd.NewCommand(logger, streams.Out, streams.Err),
	)
	return root.ExecuteContext(ctx)
}
