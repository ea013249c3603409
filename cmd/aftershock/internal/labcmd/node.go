package labcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/lab"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// attachForActions attaches to a running lab with what restarting its
// processes needs: the lab's binaries and the node agent.
func attachForActions(logger *slog.Logger, flags *flagpole) (*lab.Lab, error) {
	if err := lab.Preflight(); err != nil {
		return nil, err
	}
	runID, err := pickRun(flags)
	if err != nil {
		return nil, err
	}
	bins, err := lab.FindBinaries()
	if err != nil {
		return nil, err
	}
	agent, err := lab.FindAgent()
	if err != nil {
		return nil, err
	}
	return lab.Attach(runID, flags.stateRoot, lab.Options{Binaries: bins, AgentCommand: []string{agent}, Logger: logger})
}

func rebootCommand(logger *slog.Logger, flags *flagpole, out io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reboot [--run ID] NODE",
		Short: "Reboot a lab node in place: its processes restart and its network comes back in boot order",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := attachForActions(logger, flags)
			if err != nil {
				return err
			}
			start := time.Now()
			if err := l.Reboot(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "lab %s: rebooted %s in %s\n", l.RunID(), args[0], time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: the only lab running)")
	return cmd
}

func terminateCommand(logger *slog.Logger, flags *flagpole, out io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "terminate [--run ID] NODE",
		Short: "Terminate a lab node: kill its processes and delete its namespace; its Node object stays, NotReady",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := attachForActions(logger, flags)
			if err != nil {
				return err
			}
			// Terminate rewrites the lab's state file: one process at a
			// time, or concurrent terminations would lose each other's.
			unlock, err := lockLab(l.Dir())
			if err != nil {
				return err
			}
			defer unlock()
			if l, err = attachForActions(logger, flags); err != nil {
				return err
			}
			if err := l.Terminate(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "lab %s: terminated %s\n", l.RunID(), args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: the only lab running)")
	return cmd
}

// lockLab takes an exclusive lock on the lab's folder for the state changes
// of one process; the lock file goes with the folder at lab down.
func lockLab(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "state.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock lab state: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock lab state: %w", err)
	}
	return func() { f.Close() }, nil
}

// Environment of a command run by `lab exec`.
const (
	EnvNode        = "AFTERSHOCK_NODE"
	EnvNodeNetNS   = "AFTERSHOCK_NODE_NETNS"
	EnvNodeAddress = "AFTERSHOCK_NODE_ADDRESS"
)

func execCommand(flags *flagpole, out, errOut io.Writer) *cobra.Command {
	var inNetNS bool
	cmd := &cobra.Command{
		Use:   "exec [--run ID] [--in-netns] NODE -- COMMAND [ARGS...]",
		Short: "Run a command for a lab node, as an ssh session to a real node would",
		Long: "Run a command for a lab node: the lab's exec channel, as ssh or SSM is for a real node.\n" +
			"A lab node shares this machine's processes and files; only its network is its own. The command\n" +
			"runs here with " + EnvNode + ", " + EnvNodeNetNS + " and " + EnvNodeAddress + " set, or inside the\n" +
			"node's network namespace with --in-netns. It fails if the node does not exist or was terminated.\n" +
			"The command's stdout and stderr pass through; a non-zero exit fails this command.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return errors.New("lab exec: want NODE -- COMMAND [ARGS...]")
			}
			runID, err := pickRun(flags)
			if err != nil {
				return err
			}
			l, err := lab.Attach(runID, flags.stateRoot, lab.Options{})
			if err != nil {
				return err
			}
			node, ok := liveNode(l, args[0])
			if !ok {
				return fmt.Errorf("lab %s has no node %q (or it was terminated)", runID, args[0])
			}
			if _, err := os.Stat(node.NetNSPath); err != nil {
				return fmt.Errorf("lab %s node %s: its network namespace is gone: %w", runID, node.Name, err)
			}
			argv := args[1:]
			if inNetNS {
				argv = append([]string{"ip", "netns", "exec", filepath.Base(node.NetNSPath)}, argv...)
			}
			c := exec.CommandContext(cmd.Context(), argv[0], argv[1:]...)
			c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), out, errOut
			c.Env = append(os.Environ(),
				EnvNode+"="+node.Name, EnvNodeNetNS+"="+node.NetNSPath, EnvNodeAddress+"="+node.Address)
			if err := c.Run(); err != nil {
				if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.Exited() {
					return fmt.Errorf("lab %s node %s: %s exited with status %d", runID, node.Name, argv[0], exitErr.ExitCode())
				}
				return fmt.Errorf("lab %s node %s: %w", runID, node.Name, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: the only lab running)")
	cmd.Flags().BoolVar(&inNetNS, "in-netns", false, "run the command inside the node's network namespace (ip netns exec)")
	return cmd
}

func liveNode(l *lab.Lab, name string) (infra.Node, bool) {
	for _, n := range l.Nodes() {
		if n.Name == name {
			return n, true
		}
	}
	return infra.Node{}, false
}

func inventoryCommand(flags *flagpole, out io.Writer) *cobra.Command {
	var aftershock string
	cmd := &cobra.Command{
		Use:   "inventory [--run ID] [--aftershock PATH]",
		Short: "Print a lab as the aftershock_fleet inventory a Terraform module outputs (docs/terraform.md)",
		Long: "Print a running lab as the aftershock_fleet inventory of docs/terraform.md, whose actions call\n" +
			"`aftershock lab reboot|terminate|exec`. infra/terraform/modules/lab outputs it.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			runID, err := pickRun(flags)
			if err != nil {
				return err
			}
			l, err := lab.Attach(runID, flags.stateRoot, lab.Options{})
			if err != nil {
				return err
			}
			if aftershock == "" {
				if aftershock, err = os.Executable(); err != nil {
					return fmt.Errorf("lab inventory: this executable's path (give --aftershock): %w", err)
				}
			}
			root, err := filepath.Abs(flags.stateRoot)
			if err != nil {
				return err
			}
			inv, err := labInventory(l, aftershock, root)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(inv)
		},
	}
	cmd.Flags().StringVar(&flags.runID, "run", "", "run ID (default: the only lab running)")
	cmd.Flags().StringVar(&aftershock, "aftershock", "", "path of the aftershock executable the actions run (default: this one)")
	return cmd
}

// inventory is the aftershock_fleet document of docs/terraform.md.
type inventory struct {
	Version           int               `json:"version"`
	Name              string            `json:"name"`
	GameDay           bool              `json:"game_day"`
	NodeJournalDir    string            `json:"node_journal_dir"`
	AftershockCommand []string          `json:"aftershock_command"`
	Actions           inventoryActions  `json:"actions"`
	Regions           []inventoryRegion `json:"regions"`
	Clusters          []inventoryClust  `json:"clusters"`
	Nodes             []inventoryNode   `json:"nodes"`
}

type inventoryActions struct {
	Reboot    []string `json:"reboot"`
	Terminate []string `json:"terminate"`
	Exec      []string `json:"exec"`
}

type inventoryRegion struct {
	Name  string `json:"name"`
	Cloud string `json:"cloud"`
}

type inventoryClust struct {
	Name           string  `json:"name"`
	Region         string  `json:"region"`
	Role           string  `json:"role"`
	Parent         *string `json:"parent"`
	KubeconfigPath string  `json:"kubeconfig_path"`
	APINetNS       string  `json:"api_netns"`
}

type inventoryNode struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Region  string            `json:"region"`
	Cluster string            `json:"cluster"`
	Role    string            `json:"role"`
	Address string            `json:"address"`
	Labels  map[string]string `json:"labels"`
	NetNS   string            `json:"netns"`
}

// labInventory describes a running lab: every live node, its cluster's
// kubeconfig (dialled from the fabric namespace), and actions that call this
// aftershock's lab commands. A lab is disposable, so it is marked for game
// days; the node-side journals live in the lab's folder, which lab down
// removes.
func labInventory(l *lab.Lab, aftershock, stateRoot string) (inventory, error) {
	run := l.RunID()
	lab := func(sub string, extra ...string) []string {
		return append([]string{aftershock, "lab", sub, "--state-root", stateRoot, "--run", run}, extra...)
	}
	inv := inventory{
		Version:           1,
		Name:              fmt.Sprintf("%s (lab %s)", l.Topology().Name, run),
		GameDay:           true,
		NodeJournalDir:    filepath.Join(l.Dir(), "node-journals"),
		AftershockCommand: []string{aftershock},
		Actions: inventoryActions{
			Reboot:    lab("reboot", "{{name}}"),
			Terminate: lab("terminate", "{{name}}"),
			Exec:      lab("exec", "{{name}}", "--"),
		},
	}
	topo := l.Topology()
	for _, rc := range topo.Clusters() {
		kubeconfig, err := l.Kubeconfig(rc.Cluster.Name)
		if err != nil {
			return inv, err
		}
		c := inventoryClust{
			Name: rc.Cluster.Name, Region: rc.Region.Name, Role: string(rc.Cluster.Role),
			KubeconfigPath: kubeconfig, APINetNS: filepath.Join(netnsDir, labNamespace(run, "fabric")),
		}
		if rc.Cluster.Parent != "" {
			parent := rc.Cluster.Parent
			c.Parent = &parent
		}
		inv.Clusters = append(inv.Clusters, c)
	}
	for _, r := range topo.Regions {
		inv.Regions = append(inv.Regions, inventoryRegion{Name: r.Name, Cloud: string(r.Cloud)})
	}
	for _, n := range l.Nodes() {
		inv.Nodes = append(inv.Nodes, inventoryNode{
			ID: filepath.Base(n.NetNSPath), Name: n.Name, Region: n.Region, Cluster: n.Cluster,
			Role: string(n.Role), Address: n.Address, Labels: infra.NodeLabels(n.Node), NetNS: n.NetNSPath,
		})
	}
	return inv, nil
}

func labNamespace(run, name string) string { return lab.NamespacePrefix + run + "-" + name }
