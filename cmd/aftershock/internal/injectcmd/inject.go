package injectcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/aftershock-sre/aftershock/experiments/fault"
	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// selfNetNS is this process's own network namespace: the node's, when
// aftershock runs on the node itself.
const selfNetNS = fault.SelfNetNS

type networkdFlags struct {
	netns         string
	self          bool
	node          string
	journal       string
	id            string
	manageRules   bool
	manageRoutes  bool
	links         []string
	declaredRules []string
}

// NewCommand returns `aftershock inject` with its networkd-restart and
// revert commands.
func NewCommand(logger *slog.Logger, out, errOut io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inject",
		Short: "Node side of a fault: inject or revert it here, journalled on this machine",
		Long: "Node side of a fault on a fleet reached through an exec channel (Terraform fleets run it\n" +
			"through each node's exec command). It snapshots what it will remove, journals the snapshot\n" +
			"(fsync) before removing anything, and `inject revert` restores exactly the snapshot.",
	}
	cmd.AddCommand(networkdCommand(logger, out, errOut), revertCommand(logger, out, errOut))
	return cmd
}

// Result is the JSON line each command prints on stdout per injection.
type Result struct {
	ID    string `json:"id"`
	Fault string `json:"fault"`
	Node  string `json:"node"`
	NetNS string `json:"netns,omitempty"`
	// State is the injection's journal state after the command.
	State string `json:"state"`
	// Rules and Routes are how many the snapshot holds.
	Rules  int    `json:"rules"`
	Routes int    `json:"routes"`
	Error  string `json:"error,omitempty"`
}

func networkdCommand(logger *slog.Logger, out, errOut io.Writer) *cobra.Command {
	flags := &networkdFlags{}
	cmd := &cobra.Command{
		Use:   "networkd-restart (--netns PATH | --self) --journal PATH [--id ID]",
		Short: "Do what a systemd-networkd restart does to this node: delete its foreign routing-policy rules (and routes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.config()
			if err != nil {
				return err
			}
			netnsPath, node, id, err := flags.target()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(flags.journal), 0o700); err != nil {
				return fmt.Errorf("journal folder: %w", err)
			}
			j, err := journal.Open(flags.journal)
			if err != nil {
				return err
			}
			defer j.Close()
			// The journal is this command's only memory across runs: a
			// second injection under a pending ID would journal an empty
			// snapshot over the one that restores the node.
			if err := refusePending(flags.journal, id); err != nil {
				return err
			}
			f := fault.NewNetworkdRestart(node, netnsPath, cfg, j, id)
			if flags.self {
				// Only on the node named: the fault refuses this machine's
				// namespace unless its host name is node.
				f.OwnHost = node
			}
			logger.Debug("inject", "fault", f.Name(), "node", node, "netns", netnsPath, "id", id, "journal", flags.journal)
			injectErr := f.Inject(cmd.Context())
			res := Result{ID: id, Fault: f.Name(), Node: node, NetNS: netnsPath, State: journal.StateInjected}
			if snap, ok := f.Snapshot(); ok {
				res.Rules, res.Routes = len(snap.Rules), len(snap.Routes)
			}
			if injectErr != nil {
				res.State, res.Error = journal.StateFailed, injectErr.Error()
				if _, ok := f.Snapshot(); !ok {
					res.State = "not-injected"
				}
			}
			if err := printResult(out, res); err != nil {
				return err
			}
			if injectErr != nil {
				if errors.Is(injectErr, fault.ErrHostNamespace) && flags.self {
					host, _ := os.Hostname()
					return fmt.Errorf("%w (--self acts on this machine's own network namespace only on the node it names: "+
						"--node %q is not this machine's host name %q)", injectErr, node, host)
				}
				return injectErr
			}
			fmt.Fprintf(errOut, "networkd-restart on %s: removed %d rules and %d routes; revert with: aftershock inject revert --journal %s --id %s\n",
				node, res.Rules, res.Routes, flags.journal, id)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&flags.netns, "netns", "", "the node's network namespace, e.g. /run/netns/NAME or /proc/PID/ns/net")
	fl.BoolVar(&flags.self, "self", false, "the network namespace this process runs in (aftershock running on the node itself)")
	fl.StringVar(&flags.node, "node", "", "the node's name in journals and reports (default: the namespace's name; required with --self, and must be this machine's host name)")
	fl.StringVar(&flags.journal, "journal", "", "journal file on this machine (required); created if missing")
	fl.StringVar(&flags.id, "id", "", "injection ID, unique per injection (default: NODE/networkd-restart/<unix nanoseconds>)")
	fl.BoolVar(&flags.manageRules, "manage-foreign-routing-policy-rules", true, "networkd.conf ManageForeignRoutingPolicyRules= (false is the 2023 fix)")
	fl.BoolVar(&flags.manageRoutes, "manage-foreign-routes", true, "networkd.conf ManageForeignRoutes=")
	fl.StringArrayVar(&flags.links, "link", []string{"eth0"}, "a link networkd manages (repeat for more)")
	fl.StringArrayVar(&flags.declaredRules, "declared-rule", nil,
		"a rule a .network file declares, kept by networkd: priority=N,table=T,from=CIDR,to=CIDR,family=inet|inet6 (every key optional; repeat for more)")
	cmd.MarkFlagsMutuallyExclusive("netns", "self")
	cmd.MarkFlagsOneRequired("netns", "self")
	_ = cmd.MarkFlagRequired("journal")
	return cmd
}

func (f *networkdFlags) config() (fault.NetworkdConfig, error) {
	cfg := fault.NetworkdConfig{
		ManageForeignRoutingPolicyRules: f.manageRules,
		ManageForeignRoutes:             f.manageRoutes,
		ManagedLinks:                    f.links,
	}
	for _, spec := range f.declaredRules {
		r, err := ParseDeclaredRule(spec)
		if err != nil {
			return cfg, err
		}
		cfg.DeclaredRules = append(cfg.DeclaredRules, r)
	}
	return cfg, nil
}

// target resolves the namespace, the node's name and the injection ID.
func (f *networkdFlags) target() (netnsPath, node, id string, err error) {
	switch {
	case f.self:
		// No default: acting on this machine's own namespace must name the
		// node, and the fault checks that the name is this machine's.
		netnsPath = selfNetNS
		if node = f.node; node == "" {
			return "", "", "", errors.New("--self needs --node, this machine's host name as the inventory names it")
		}
	default:
		if !filepath.IsAbs(f.netns) {
			return "", "", "", fmt.Errorf("--netns %q: want an absolute path, e.g. /run/netns/NAME", f.netns)
		}
		netnsPath = f.netns
		if node = f.node; node == "" {
			node = filepath.Base(f.netns)
		}
	}
	if !filepath.IsAbs(f.journal) {
		return "", "", "", fmt.Errorf("--journal %q: want an absolute path", f.journal)
	}
	if id = f.id; id == "" {
		id = fmt.Sprintf("%s/%s/%d", node, fault.NetworkdRestartName, time.Now().UnixNano())
	}
	return netnsPath, node, id, nil
}

// ParseDeclaredRule reads a --declared-rule: comma-separated key=value pairs
// with keys priority, table, from, to and family (inet or inet6). What is not
// given matches any value, except from and to, which match only rules without
// a source or destination when not given, as experiments/fault does.
func ParseDeclaredRule(spec string) (netlink.Rule, error) {
	r := *netlink.NewRule()
	r.Table = 0
	if strings.TrimSpace(spec) == "" {
		return r, errors.New("--declared-rule: empty (want e.g. priority=111,table=2004)")
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return r, fmt.Errorf("--declared-rule %q: %q is not key=value", spec, kv)
		}
		if seen[k] {
			return r, fmt.Errorf("--declared-rule %q: %s given twice", spec, k)
		}
		seen[k] = true
		switch k {
		case "priority":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return r, fmt.Errorf("--declared-rule %q: priority %q is not a number from 0 to %d", spec, v, uint32(1<<32-1))
			}
			r.Priority = int(n)
		case "table":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return r, fmt.Errorf("--declared-rule %q: table %q is not a table number from 1 to %d", spec, v, uint32(1<<32-1))
			}
			r.Table = int(n)
		case "from", "to":
			_, ipnet, err := net.ParseCIDR(v)
			if err != nil {
				return r, fmt.Errorf("--declared-rule %q: %s %q is not a CIDR prefix", spec, k, v)
			}
			if k == "from" {
				r.Src = ipnet
			} else {
				r.Dst = ipnet
			}
		case "family":
			switch v {
			case "inet":
				r.Family = unix.AF_INET
			case "inet6":
				r.Family = unix.AF_INET6
			default:
				return r, fmt.Errorf("--declared-rule %q: family %q (want inet or inet6)", spec, v)
			}
		default:
			return r, fmt.Errorf("--declared-rule %q: unknown key %q (want priority, table, from, to or family)", spec, k)
		}
	}
	return r, nil
}

// refusePending fails if injection id is pending in the journal at path. The
// caller holds the journal's lock.
func refusePending(path, id string) error {
	entries, err := journal.Read(path)
	if err != nil {
		return err
	}
	for _, e := range journal.Pending(entries) {
		if e.ID == id {
			return fmt.Errorf("injection %s is already %s in %s: revert it first (aftershock inject revert --journal %s --id %s)",
				id, e.State, path, path, id)
		}
	}
	return nil
}

func printResult(out io.Writer, res Result) error {
	line, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", line)
	return err
}

func revertCommand(logger *slog.Logger, out, errOut io.Writer) *cobra.Command {
	var path, id string
	cmd := &cobra.Command{
		Use:   "revert --journal PATH [--id ID]",
		Short: "Restore what injections recorded in this machine's journal removed (all pending ones, or --id)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := journal.Read(path)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(errOut, "nothing to revert: %s does not exist\n", path)
				return nil
			}
			if err != nil {
				return err
			}
			var pending []journal.Entry
			for _, e := range journal.Pending(entries) {
				if id == "" || e.ID == id {
					pending = append(pending, e)
				}
			}
			if len(pending) == 0 {
				what := "no injection is pending"
				if id != "" {
					what = fmt.Sprintf("injection %s is not pending (reverted already, or never journalled)", id)
				}
				fmt.Fprintf(errOut, "nothing to revert in %s: %s\n", path, what)
				return nil
			}
			j, err := journal.Open(path)
			if err != nil {
				return err
			}
			defer j.Close()
			var errs []error
			for _, e := range pending {
				res := Result{ID: e.ID, Fault: e.Fault, Node: e.Node, NetNS: e.NetNS, State: journal.StateReverted}
				f, err := fault.FromJournal(e, j)
				if err == nil {
					logger.Debug("revert", "fault", e.Fault, "node", e.Node, "id", e.ID)
					err = f.Revert(cmd.Context())
				}
				if nf, ok := f.(*fault.NetworkdRestart); ok {
					if snap, ok := nf.Snapshot(); ok {
						res.Rules, res.Routes = len(snap.Rules), len(snap.Routes)
					}
				}
				if err != nil {
					res.State, res.Error = journal.StateFailed, err.Error()
					errs = append(errs, fmt.Errorf("revert %s: %w", e.ID, err))
				}
				if perr := printResult(out, res); perr != nil {
					errs = append(errs, perr)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			fmt.Fprintf(errOut, "reverted %d injection(s) from %s\n", len(pending), path)
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "journal", "", "journal file on this machine (required)")
	cmd.Flags().StringVar(&id, "id", "", "revert only this injection (default: every pending one)")
	_ = cmd.MarkFlagRequired("journal")
	return cmd
}
