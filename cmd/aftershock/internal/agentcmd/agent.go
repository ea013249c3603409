package agentcmd

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/aftershock-sre/aftershock/infra/lab/agent"
)

// NewCommand returns the agent subcommand. Its flags are the agent package's
// own (see agent.ParseArgs), so the lab and this command cannot drift apart.
func NewCommand(_ *slog.Logger) *cobra.Command {
	return &cobra.Command{
		Use:                "agent --kubeconfig PATH --node NAME --address IP [--labels k=v,...] [--heartbeat 1s]",
		Short:              "Run a lab node agent (started by the lab inside a node's namespace)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := agent.ParseArgs(args)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			return agent.Run(cmd.Context(), cfg, log)
		},
	}
}
