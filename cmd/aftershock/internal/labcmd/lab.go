package labcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/progress"
	"github.com/aftershock-sre/aftershock/infra/lab"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

type flagpole struct {
	preset    string
	topology  string
	runID     string
	stateRoot string
	all       bool
	retain    bool
	detach    bool
}

// NewCommand returns `aftershock lab` with its up, status and down commands.
func NewCommand(logger *slog.Logger, out, errOut io.Writer) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the embedded lab: network-namespace nodes with real Kubernetes control planes",
	}
	cmd.PersistentFlags().StringVar(&flags.stateRoot, "state-root", lab.DefaultStateRoot, "folder holding each lab's working folder")
	cmd.AddCommand(upCommand(logger, flags, out, errOut), statusCommand(flags, out), downCommand(flags, out),
		rebootCommand(logger, flags, out), terminateCommand(logger, flags, out),
		execCommand(flags, out, errOut), inventoryCommand(flags, out))
	return cmd
}

func upCommand(logger *slog.Logger, flags *flagpole, out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up (--preset NAME | --topology FILE) [--run ID] [--detach=false]",
		Short: "Bring a lab up and wait until every node is Ready",
		Long: "Bring a lab up and wait until every node is Ready. By default (--detach) the lab keeps running\n" +
			"after this command returns, until `aftershock lab down`; with --detach=false it runs in the\n" +
			"foreground and is torn down on Ctrl-C or SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			topo, err := loadTopology(flags)
			if err != nil {
				return err
			}
			if err := lab.Preflight(); err != nil {
				return err
			}
			bins, err := lab.FindBinaries()
			if err != nil {
				return err
			}
			bar := progress.New(errOut)
			defer bar.Done()
			fmt.Fprintf(errOut, "bringing up %s: %d regions, %d clusters, %d nodes\n",
				topo.Name, len(topo.Regions), len(topo.Clusters()), len(topo.Nodes()))
			l, err := lab.Up(cmd.Context(), topo, lab.Options{
				RunID:     flags.runID,
				StateRoot: flags.stateRoot,
				Binaries:  bins,
				Detach:    flags.detach,
				Retain:    flags.retain,
				Logger:    logger,
				Progress:  func(p lab.Progress) { bar.Update(p.Phase, p.Done, p.Total) },
			})
			if err != nil {
				return err
			}
			bar.Done()
			fmt.Fprintf(out, "lab %s is up: every node is Ready\n", l.RunID())
			fmt.Fprintf(out, "  status:   aftershock lab status --run %s\n", l.RunID())
			fmt.Fprintf(out, "  kubectl:  ip netns exec %s-fabric kubectl --kubeconfig %s/clusters/CLUSTER/admin.kubeconfig get nodes\n",
				lab.NamespacePrefix+l.RunID(), l.Dir())
			if flags.detach {
				fmt.Fprintf(out, "  down:     aftershock lab down --run %s\n", l.RunID())
				return nil
			}
			fmt.Fprintln(out, "  running in the foreground: Ctrl-C tears it down")
			<-cmd.Context().Done()
			if err := l.Down(context.WithoutCancel(cmd.Context())); err != nil {
				return err
			}
			fmt.Fprintf(out, "lab %s is down\n", l.RunID())
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.preset, "preset", "", "preset topology: "+strings.Join(topology.PresetNames(), ", "))
	cmd.Flags().StringVar(&flags.topology, "topology", "", "topology YAML file")
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: random)")
	cmd.Flags().BoolVar(&flags.retain, "retain", false, "keep a lab that fails to start, with its logs, for debugging")
	cmd.Flags().BoolVar(&flags.detach, "detach", true, "leave the lab running when this command returns (false: run in the foreground until interrupted)")
	return cmd
}

func loadTopology(flags *flagpole) (topology.Topology, error) {
	switch {
	case flags.preset != "" && flags.topology != "":
		return topology.Topology{}, errors.New("lab up: give --preset or --topology, not both")
	case flags.topology != "":
		return topology.Load(flags.topology)
	case flags.preset != "":
		return topology.Preset(flags.preset)
	}
	return topology.Topology{}, fmt.Errorf("lab up: give --preset (%s) or --topology FILE", strings.Join(topology.PresetNames(), ", "))
}

func statusCommand(flags *flagpole, out io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--run ID]",
		Short: "Show a lab's clusters and nodes with their Ready state, read from each API server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			runID, err := pickRun(flags)
			if err != nil {
				return err
			}
			l, err := lab.Attach(runID, flags.stateRoot, lab.Options{})
			if err != nil {
				return err
			}
			printStatus(out, l.RunID(), l.Status(cmd.Context()))
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: the only lab running)")
	return cmd
}

func printStatus(out io.Writer, runID string, clusters []lab.ClusterStatus) {
	fmt.Fprintf(out, "lab %s\n\n", runID)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tREGION\tCONTROL PLANE ON\tENDPOINT\tAPI\tREADY")
	for _, c := range clusters {
		api, ready := "reachable", 0
		if !c.Reachable {
			api = "unreachable"
		}
		for _, n := range c.Nodes {
			if n.Ready == "True" {
				ready++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\n", c.Name, c.Region, c.HostNode, c.Endpoint, api, ready, len(c.Nodes))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "NODE\tCLUSTER\tROLE\tADDRESS\tSTATUS")
	for _, c := range clusters {
		for _, n := range c.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.Name, n.Cluster, n.Role, n.Address, readyWord(c, n))
		}
	}
	_ = tw.Flush()
}

func readyWord(c lab.ClusterStatus, n lab.NodeStatus) string {
	switch {
	case n.Terminated:
		return "Terminated"
	case !c.Reachable:
		return "? (API unreachable)"
	case n.Ready == "True":
		return "Ready"
	case n.Ready == "":
		return "NotRegistered"
	}
	return "NotReady (" + n.Ready + ")"
}

func downCommand(flags *flagpole, out io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "down [--run ID | --all]",
		Short: "Tear a lab down: stop its processes, delete its namespaces and folder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var runs []string
			if flags.all {
				var err error
				if runs, err = everyRun(flags.stateRoot); err != nil {
					return err
				}
			} else {
				runID, err := pickRun(flags)
				if err != nil {
					return err
				}
				runs = []string{runID}
			}
			var errs []error
			for _, id := range runs {
				if err := lab.Teardown(context.WithoutCancel(cmd.Context()), id, flags.stateRoot); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(out, "lab %s is down\n", id)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: the only lab running)")
	cmd.Flags().BoolVar(&flags.all, "all", false, "tear down every lab on this machine, including what crashed runs left")
	return cmd
}

// pickRun returns --run, or the only lab there is.
func pickRun(flags *flagpole) (string, error) {
	if flags.runID != "" {
		return flags.runID, nil
	}
	runs, err := lab.Runs(flags.stateRoot)
	if err != nil {
		return "", err
	}
	switch len(runs) {
	case 0:
		return "", errors.New("no lab is running")
	case 1:
		return runs[0], nil
	}
	return "", fmt.Errorf("several labs are running (%s): pick one with --run", strings.Join(runs, ", "))
}

// everyRun lists the labs under root and every run that left namespaces.
func everyRun(root string) ([]string, error) {
	runs, err := lab.Runs(root)
	if err != nil {
		return nil, err
	}
	leftovers, err := lab.NamespaceRuns()
	if err != nil {
		return nil, err
	}
	for _, id := range leftovers {
		if !slices.Contains(runs, id) {
			runs = append(runs, id)
		}
	}
	return runs, nil
}
