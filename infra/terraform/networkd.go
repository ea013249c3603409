package terraform

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
)

// NetworkdRestartName is the fault's name, as experiments/fault names it.
const NetworkdRestartName = "networkd-restart"

// NetworkdSpec is the part of a node's systemd-networkd configuration that
// decides what a restart removes; it mirrors experiments/fault's
// NetworkdConfig in the flags of `aftershock inject networkd-restart`.
type NetworkdSpec struct {
	ManageForeignRoutingPolicyRules bool
	ManageForeignRoutes             bool
	// ManagedLinks are the links networkd manages (default eth0 on the node).
	ManagedLinks []string
	// DeclaredRules are rules the node's .network files declare, each as
	// "priority=N,table=T,from=CIDR,to=CIDR,family=inet|inet6" (every key
	// optional).
	DeclaredRules []string
}

// InjectNetworkdArgs is the node-side command line (after the aftershock
// command) that restarts networkd's view of the node: `inject
// networkd-restart` pointed at netns, or at its own namespace (--self) when
// netns is empty, journalled under id in journal on the node.
func InjectNetworkdArgs(node, netns, journal, id string, spec NetworkdSpec) []string {
	args := []string{"inject", NetworkdRestartName}
	if netns != "" {
		args = append(args, "--netns", netns)
	} else {
		args = append(args, "--self")
	}
	args = append(args, "--node", node, "--journal", journal, "--id", id,
		"--manage-foreign-routing-policy-rules="+strconv.FormatBool(spec.ManageForeignRoutingPolicyRules),
		"--manage-foreign-routes="+strconv.FormatBool(spec.ManageForeignRoutes))
	for _, l := range spec.ManagedLinks {
		args = append(args, "--link", l)
	}
	for _, r := range spec.DeclaredRules {
		args = append(args, "--declared-rule", r)
	}
	return args
}

// RevertArgs is the node-side command line (after the aftershock command)
// that reverts the injection id recorded in journal on the node.
func RevertArgs(journal, id string) []string {
	return []string{"inject", "revert", "--journal", journal, "--id", id}
}

// Step is one step of a remote injection, for the caller's journal: with it,
// `aftershock cleanup` can run Revert's command after a crash.
type Step struct {
	ID, Node string
	// State is "injecting", "injected", "reverting", "reverted" or "failed",
	// as in experiments/journal.
	State string
	// Revert is the argv, run on this machine, that reverts the injection.
	Revert []string
	// Error says why a step failed, or how it ended.
	Error string
}

// NetworkdRestart is a networkd restart on a node of a Terraform fleet: it
// runs `aftershock inject networkd-restart` on the node through the node's
// exec command, which snapshots, journals on the node and flushes, and
// `aftershock inject revert` to restore. It has the methods of
// experiments/fault's Fault (Name, Target, Inject, Revert), so the engine can
// use it as one without this package importing the engine.
type NetworkdRestart struct {
	fleet *Fleet
	node  string
	id    string
	// Inject and Revert commands, run on this machine.
	inject, revert []string
	// OnStep, if set, journals each step before it happens; an error stops
	// Inject before anything runs on the node.
	OnStep func(Step) error

	mu    sync.Mutex
	state string // "" before Inject, then a Step state
}

// NetworkdRestart returns the fault for node, journalled on the node under
// id (unique per injection, e.g. "<run>/<node>/networkd-restart/<n>").
func (f *Fleet) NetworkdRestart(node, id string, spec NetworkdSpec) (*NetworkdRestart, error) {
	n, err := f.Node(node)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errors.New("networkd-restart on " + node + ": an injection needs an ID")
	}
	journal := f.NodeJournal(node)
	aftershock := f.inv.AftershockCommand
	inject, err := f.Command("exec", node, append(append([]string{}, aftershock...), InjectNetworkdArgs(n.Name, n.NetNS, journal, id, spec)...))
	if err != nil {
		return nil, err
	}
	revert, err := f.Command("exec", node, append(append([]string{}, aftershock...), RevertArgs(journal, id)...))
	if err != nil {
		return nil, err
	}
	return &NetworkdRestart{fleet: f, node: node, id: id, inject: inject, revert: revert}, nil
}

// NodeJournal is the journal `aftershock inject` writes on the node.
func (f *Fleet) NodeJournal(node string) string {
	return filepath.Join(f.inv.NodeJournalDir, node+".jsonl")
}

// Name is "networkd-restart".
func (r *NetworkdRestart) Name() string { return NetworkdRestartName }

// Target is the node.
func (r *NetworkdRestart) Target() string { return r.node }

// ID identifies the injection in the node's journal.
func (r *NetworkdRestart) ID() string { return r.id }

// InjectCommand is the argv Inject runs on this machine.
func (r *NetworkdRestart) InjectCommand() []string { return append([]string{}, r.inject...) }

// RevertCommand is the argv Revert runs on this machine.
func (r *NetworkdRestart) RevertCommand() []string { return append([]string{}, r.revert...) }

func (r *NetworkdRestart) step(state, note string) error {
	if r.OnStep == nil {
		return nil
	}
	return r.OnStep(Step{ID: r.id, Node: r.node, State: state, Revert: r.RevertCommand(), Error: note})
}

// Inject runs the injection on the node. It refuses to run twice without a
// Revert in between. Whatever it returns, Revert restores what the node
// removed: the node journalled its snapshot before it deleted anything.
func (r *NetworkdRestart) Inject(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != "" && r.state != "reverted" {
		return fmt.Errorf("inject %s on %s: already injected (%s): revert first", NetworkdRestartName, r.node, r.state)
	}
	if err := r.step("injecting", ""); err != nil {
		return fmt.Errorf("inject %s on %s: journal (nothing ran): %w", NetworkdRestartName, r.node, err)
	}
	r.state = "injecting"
	_, err := r.fleet.runOn(ctx, "exec", r.node, r.inject)
	if err != nil {
		r.state = "failed"
		return fmt.Errorf("inject %s on %s: %w", NetworkdRestartName, r.node, errors.Join(err, r.step("failed", err.Error())))
	}
	r.state = "injected"
	if err := r.step("injected", ""); err != nil {
		return fmt.Errorf("inject %s on %s: injected, but: %w", NetworkdRestartName, r.node, err)
	}
	return nil
}

// Revert runs the node-side revert, which restores exactly the snapshot the
// node journalled. It does nothing before Inject or after a successful
// Revert. A node this fleet terminated counts as reverted ("target gone").
func (r *NetworkdRestart) Revert(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == "" || r.state == "reverted" {
		return nil
	}
	if r.fleet.Terminated(r.node) {
		r.state = "reverted"
		return r.step("reverted", "target gone: the node was terminated")
	}
	journalErr := r.step("reverting", "")
	if _, err := r.fleet.runOn(ctx, "exec", r.node, r.revert); err != nil {
		r.state = "failed"
		return fmt.Errorf("revert %s on %s: %w", NetworkdRestartName, r.node, errors.Join(err, journalErr, r.step("failed", err.Error())))
	}
	r.state = "reverted"
	if err := errors.Join(journalErr, r.step("reverted", "")); err != nil {
		return fmt.Errorf("revert %s on %s: restored, but: %w", NetworkdRestartName, r.node, err)
	}
	return nil
}
