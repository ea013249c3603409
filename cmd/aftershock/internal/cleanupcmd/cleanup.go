package cleanupcmd

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aftershock-sre/aftershock/experiments/fault"
	"github.com/aftershock-sre/aftershock/experiments/journal"
	"github.com/aftershock-sre/aftershock/infra/kind"
	"github.com/aftershock-sre/aftershock/infra/lab"
)

type flagpole struct {
	journals  []string
	all       bool
	stateRoot string
	reports   string
}

// DefaultReports is where `aftershock run` writes its reports, and so its
// injection journals, by default.
const DefaultReports = "reports/out"

// netnsDir is where named network namespaces live; a lab node's is
// <netnsDir>/as-<run>-<node>.
const netnsDir = "/run/netns"

// NewCommand returns `aftershock cleanup`.
func NewCommand(logger *slog.Logger, out, errOut io.Writer) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "cleanup (--journal PATH... | --all)",
		Short: "Revert every fault a crashed or killed run left injected, then tear down the labs it used",
		Long: `Revert every fault that an injection journal still records as injected, then tear down every
lab the journal names. A node whose namespace is gone (terminated, or its lab torn down) or now
belongs to another namespace (replaced) does not fail the cleanup: the output and the journal
say what happened to it. An injection made on a node through its exec channel (a Terraform
fleet) is reverted by running the command the run journalled for it.

--journal takes a journal file (scenario-N.jsonl in a run's report folder) or a report folder,
and may be repeated. --all takes every journal under --reports and the state root, every lab
under the state root, every as-* network namespace on this machine, and every kind run
(clusters named as-<run>-…) on the Docker engine. A journal that a running
aftershock still writes to is left alone, and so are the labs it names; but a run that has not
injected anything yet holds no journal, so stop every run before cleanup --all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case flags.all && len(flags.journals) > 0:
				return errors.New("cleanup: give --journal or --all, not both")
			case !flags.all && len(flags.journals) == 0:
				return errors.New("cleanup: give --journal PATH (a run's scenario-N.jsonl or report folder) or --all")
			}
			c := &cleaner{log: logger, out: out, stateRoot: flags.stateRoot, labs: map[string]*labRef{}, kinds: map[string]*labRef{}}
			return c.run(cmd.Context(), flags)
		},
	}
	cmd.Flags().StringArrayVar(&flags.journals, "journal", nil, "injection journal file, or a report folder holding them (repeatable)")
	cmd.Flags().BoolVar(&flags.all, "all", false, "every journal, lab, as-* namespace and kind run on this machine")
	cmd.Flags().StringVar(&flags.stateRoot, "state-root", lab.DefaultStateRoot, "folder holding each lab's working folder")
	cmd.Flags().StringVar(&flags.reports, "reports", DefaultReports, "with --all: folder searched for journals, as well as the state root")
	return cmd
}

// labRef is a lab to tear down and where it was named.
type labRef struct {
	run, root string
	// fleets are the journals' fleet entries for it, marked reverted once
	// it is down.
	fleets []fleetEntry
	why    string
}

type fleetEntry struct {
	j *journal.Journal
	e journal.Entry
}

type cleaner struct {
	log       *slog.Logger
	out       io.Writer
	stateRoot string
	labs      map[string]*labRef // by run ID
	kinds     map[string]*labRef // kind runs, by run ID
	open      []*journal.Journal
	// busy are the runs named by journals another process holds: a live
	// run's lab is not torn down.
	busy map[string]string
	errs []error
}

func (c *cleaner) run(ctx context.Context, flags *flagpole) error {
	paths, err := c.findJournals(flags)
	if err != nil {
		return err
	}
	if flags.all {
		c.addEveryLab()
		c.addEveryKindRun(ctx)
	}
	// Every fault first, then the labs: a revert needs its node's namespace.
	reverted := 0
	for _, p := range paths {
		reverted += c.cleanJournal(ctx, p, !flags.all)
	}
	down := c.teardown(ctx) + c.teardownKind(ctx)
	for _, j := range c.open {
		if err := j.Close(); err != nil {
			c.errs = append(c.errs, err)
		}
	}
	fmt.Fprintf(c.out, "cleanup: %d journal(s), %d injection(s) reverted, %d fleet(s) torn down", len(paths), reverted, down)
	if len(c.errs) > 0 {
		fmt.Fprintf(c.out, ", %d problem(s)\n", len(c.errs))
		return errors.Join(c.errs...)
	}
	fmt.Fprintln(c.out)
	return nil
}

// findJournals expands --journal folders, or finds every journal for --all.
func (c *cleaner) findJournals(flags *flagpole) ([]string, error) {
	var paths []string
	if flags.all {
		for _, dir := range []string{flags.reports, c.stateRoot} {
			found, err := journalsUnder(dir)
			if err != nil {
				return nil, err
			}
			paths = append(paths, found...)
		}
		return dedupe(paths), nil
	}
	for _, p := range flags.journals {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cleanup: journal %s: %w", p, err)
		}
		if !st.IsDir() {
			paths = append(paths, p)
			continue
		}
		found, err := filepath.Glob(filepath.Join(p, "*.jsonl"))
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			fmt.Fprintf(c.out, "%s: no journal (*.jsonl) in this folder: the run injected nothing\n", p)
		}
		paths = append(paths, found...)
	}
	return dedupe(paths), nil
}

// journalsUnder lists the *.jsonl files under dir, which may not exist.
func journalsUnder(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cleanup: find journals under %s: %w", dir, err)
	}
	return paths, nil
}

func dedupe(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, p)
		}
	}
	return out
}

// addEveryLab names every lab under the state root and every run that has an
// as-* namespace.
func (c *cleaner) addEveryLab() {
	runs, err := lab.Runs(c.stateRoot)
	if err != nil {
		c.errs = append(c.errs, err)
	}
	for _, r := range runs {
		c.addLab(r, c.stateRoot, "found under "+c.stateRoot)
	}
	leftovers, err := lab.NamespaceRuns()
	if err != nil {
		c.errs = append(c.errs, err)
	}
	for _, r := range leftovers {
		c.addLab(r, c.stateRoot, "found by its "+lab.NamespacePrefix+r+"-* namespaces")
	}
}

func (c *cleaner) addLab(run, root, why string) *labRef { return addRef(c.labs, run, root, why) }

// addEveryKindRun names every run with kind clusters or networks on the
// Docker engine, if one answers.
func (c *cleaner) addEveryKindRun(ctx context.Context) {
	runs, err := kind.Runs(ctx)
	if errors.Is(err, kind.ErrNoDocker) {
		return
	}
	if err != nil {
		c.errs = append(c.errs, err)
	}
	for _, r := range runs {
		addRef(c.kinds, r, "", "found on the Docker engine")
	}
}

func addRef(refs map[string]*labRef, run, root, why string) *labRef {
	l, ok := refs[run]
	if !ok {
		l = &labRef{run: run, root: root, why: why}
		refs[run] = l
	}
	return l
}

// cleanJournal reverts every pending injection of one journal and names its
// labs for teardown. It returns how many injections it reverted.
func (c *cleaner) cleanJournal(ctx context.Context, path string, explicit bool) int {
	entries, err := journal.Read(path)
	if err != nil {
		if explicit {
			c.errs = append(c.errs, fmt.Errorf("cleanup: %w", err))
		} else {
			fmt.Fprintf(c.out, "%s: skipped, not a readable journal: %v\n", path, err)
		}
		return 0
	}
	pending := journal.Pending(entries)
	j, err := journal.Open(path)
	if err != nil {
		// A live run holds its journal: leave it, and its labs, alone.
		for _, r := range labsNamed(entries, c.stateRoot) {
			if c.busy == nil {
				c.busy = map[string]string{}
			}
			c.busy[r.run] = path
			c.addLab(r.run, r.root, "named by "+path)
		}
		for _, e := range entries {
			if e.Fault == journal.FleetFault && e.Provider == "kind" {
				if c.busy == nil {
					c.busy = map[string]string{}
				}
				c.busy[kindKey(e.Run)] = path
			}
		}
		if explicit {
			c.errs = append(c.errs, fmt.Errorf("cleanup: %w (is that run still going? stop it first)", err))
		} else {
			fmt.Fprintf(c.out, "%s: skipped: %v\n", path, err)
		}
		return 0
	}
	c.open = append(c.open, j)
	for _, r := range labsNamed(entries, c.stateRoot) {
		c.addLab(r.run, r.root, "named by "+path)
	}
	var faults []journal.Entry
	for _, e := range pending {
		if e.Fault == journal.FleetFault {
			if e.Provider == "kind" {
				k := addRef(c.kinds, e.Run, e.StateRoot, "named by "+path)
				k.fleets = append(k.fleets, fleetEntry{j: j, e: e})
				continue
			}
			if e.Provider != "" && e.Provider != "lab" {
				c.errs = append(c.errs, fmt.Errorf("%s: fleet %s of provider %q: cleanup tears down lab and kind fleets only", path, e.Run, e.Provider))
				continue
			}
			l := c.addLab(e.Run, cmp.Or(e.StateRoot, c.stateRoot), "named by "+path)
			l.fleets = append(l.fleets, fleetEntry{j: j, e: e})
			continue
		}
		faults = append(faults, e)
	}
	fmt.Fprintf(c.out, "%s: %d injection(s) pending\n", path, len(faults))
	var done []reverted
	for _, e := range faults {
		what := fmt.Sprintf("%s on %s", e.Fault, e.Node)
		if argv := remoteRevert(e); len(argv) > 0 {
			if err := c.revertRemote(ctx, j, e, argv); err != nil {
				c.errs = append(c.errs, fmt.Errorf("revert %s (%s): %w", what, e.ID, err))
				fmt.Fprintf(c.out, "  FAILED to revert %s through its exec channel: %v\n", what, err)
				continue
			}
			done = append(done, reverted{e: e, remote: argv})
			continue
		}
		f, err := fault.FromJournal(e, j)
		if err == nil {
			c.log.Debug("revert", "id", e.ID, "fault", e.Fault, "node", e.Node, "netns", e.NetNS)
			err = f.Revert(ctx)
		}
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("revert %s (%s): %w", what, e.ID, err))
			fmt.Fprintf(c.out, "  FAILED to revert %s: %v\n", what, err)
			continue
		}
		done = append(done, reverted{e: e, f: f})
	}
	// The journal has the last word on each: restored, or the node moved.
	notes := map[string]string{}
	if len(done) > 0 {
		after, err := journal.Read(path)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("cleanup: re-read %s: %w", path, err))
		}
		for _, x := range after {
			notes[x.ID] = x.Error
		}
	}
	for _, r := range done {
		fmt.Fprintf(c.out, "  %s\n", r.describe(notes[r.e.ID]))
	}
	return len(done)
}

// reverted is an injection cleanup reverted.
type reverted struct {
	e journal.Entry
	f fault.Fault
	// remote is the command that reverted an injection on a node reached
	// through its exec channel.
	remote []string
}

// remoteRevert is the command that reverts an injection made on a node
// through its exec channel (a Terraform fleet's node), as the runner
// journalled it in the snapshot: {"version":1,"remote":{"revert":[argv]}};
// nil for an injection this machine made itself.
func remoteRevert(e journal.Entry) []string {
	var snap struct {
		Remote *struct {
			Revert []string `json:"revert"`
		} `json:"remote"`
	}
	if len(e.Snapshot) == 0 || json.Unmarshal(e.Snapshot, &snap) != nil || snap.Remote == nil {
		return nil
	}
	return snap.Remote.Revert
}

// remoteTimeout bounds one remote revert command.
const remoteTimeout = 2 * time.Minute

// revertRemote runs the journalled revert command of a remote injection
// (the node restores from its own journal) and journals the outcome.
func (c *cleaner) revertRemote(ctx context.Context, j *journal.Journal, e journal.Entry, argv []string) error {
	step := func(state, note string) error {
		return j.Record(journal.Entry{ID: e.ID, Fault: e.Fault, Node: e.Node, State: state, Snapshot: e.Snapshot, Error: note})
	}
	journalErr := step(journal.StateReverting, "")
	c.log.Debug("revert through the exec channel", "id", e.ID, "node", e.Node, "argv", argv)
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
		return errors.Join(err, journalErr, step(journal.StateFailed, err.Error()))
	}
	return errors.Join(journalErr, step(journal.StateReverted, ""))
}

// describe says what happened to the node, given the journal's note on the
// revert.
func (r reverted) describe(note string) string {
	what := fmt.Sprintf("%s on %s", r.e.Fault, r.e.Node)
	switch {
	case strings.HasPrefix(note, fault.ErrTargetGone.Error()):
		return fmt.Sprintf("%s: node gone (terminated, or its lab already torn down): nothing to restore (%s)", what, note)
	case strings.HasPrefix(note, fault.ErrTargetReplaced.Error()):
		return fmt.Sprintf("%s: node replaced: its new namespace was left untouched (%s)", what, note)
	}
	if len(r.remote) > 0 {
		return fmt.Sprintf("reverted %s through its exec channel: %s", what, strings.Join(r.remote, " "))
	}
	if nf, ok := r.f.(*fault.NetworkdRestart); ok {
		if snap, ok := nf.Snapshot(); ok {
			return fmt.Sprintf("reverted %s: %d rule(s) and %d route(s) restored in %s", what, len(snap.Rules), len(snap.Routes), r.e.NetNS)
		}
	}
	return "reverted " + what
}

// labsNamed lists the labs a journal names: its fleet entries, the Run of
// any entry, and the runs of the lab namespaces its injections went into.
func labsNamed(entries []journal.Entry, defaultRoot string) []labRef {
	var out []labRef
	add := func(run, root string) {
		if run == "" || slices.ContainsFunc(out, func(l labRef) bool { return l.run == run }) {
			return
		}
		out = append(out, labRef{run: run, root: cmp.Or(root, defaultRoot)})
	}
	for _, e := range entries {
		if e.Provider != "" && e.Provider != "lab" {
			continue
		}
		add(e.Run, e.StateRoot)
		add(labRunOf(e.NetNS), e.StateRoot)
	}
	return out
}

// labRunOf is the run of a lab node's namespace path
// (/run/netns/as-<run>-<node>), or "".
func labRunOf(netns string) string {
	if filepath.Dir(netns) != netnsDir {
		return ""
	}
	rest, ok := strings.CutPrefix(filepath.Base(netns), lab.NamespacePrefix)
	if !ok {
		return ""
	}
	run, node, ok := strings.Cut(rest, "-")
	if !ok || run == "" || node == "" {
		return ""
	}
	return run
}

// teardown tears down every lab named so far, except those of live runs, and
// marks their fleet entries reverted. It returns how many it tore down.
func (c *cleaner) teardown(ctx context.Context) int {
	runs := make([]string, 0, len(c.labs))
	for r := range c.labs {
		runs = append(runs, r)
	}
	sort.Strings(runs)
	withNamespaces, err := lab.NamespaceRuns()
	if err != nil {
		c.errs = append(c.errs, err)
	}
	down := 0
	for _, r := range runs {
		l := c.labs[r]
		if path, ok := c.busy[r]; ok {
			fmt.Fprintf(c.out, "lab %s: left running: its journal %s is held by a running aftershock\n", r, path)
			continue
		}
		dir := filepath.Join(l.root, r)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && !slices.Contains(withNamespaces, r) {
			fmt.Fprintf(c.out, "lab %s: already gone (no %s%s-* namespace, no %s)\n", r, lab.NamespacePrefix, r, dir)
			c.markDown(l)
			continue
		}
		if err := lab.Teardown(context.WithoutCancel(ctx), r, l.root); err != nil {
			c.errs = append(c.errs, err)
			fmt.Fprintf(c.out, "lab %s: FAILED to tear down: %v\n", r, err)
			continue
		}
		down++
		fmt.Fprintf(c.out, "lab %s torn down (%s): processes stopped, %s%s-* namespaces and %s removed\n", r, l.why, lab.NamespacePrefix, r, dir)
		c.markDown(l)
	}
	return down
}

// kindKey is a kind run's key in busy, apart from labs of the same ID.
func kindKey(run string) string { return "kind/" + run }

// teardownKind deletes the clusters, networks and state folder of every kind
// run named so far, except those of live runs, and marks their fleet entries
// reverted. It returns how many it tore down.
func (c *cleaner) teardownKind(ctx context.Context) int {
	down := 0
	for _, r := range slices.Sorted(maps.Keys(c.kinds)) {
		k := c.kinds[r]
		if path, ok := c.busy[kindKey(r)]; ok {
			fmt.Fprintf(c.out, "kind run %s: left running: its journal %s is held by a running aftershock\n", r, path)
			continue
		}
		if err := kind.Teardown(context.WithoutCancel(ctx), r, k.root); err != nil {
			c.errs = append(c.errs, err)
			fmt.Fprintf(c.out, "kind run %s: FAILED to tear down: %v\n", r, err)
			continue
		}
		down++
		fmt.Fprintf(c.out, "kind run %s torn down (%s): clusters and networks %s* and its state folder removed\n", r, k.why, kind.RunPrefix(r))
		c.markDown(k)
	}
	return down
}

// markDown journals that the lab's fleet entries are torn down.
func (c *cleaner) markDown(l *labRef) {
	for _, f := range l.fleets {
		e := journal.Entry{ID: f.e.ID, Fault: journal.FleetFault, State: journal.StateReverted,
			Run: l.run, StateRoot: l.root, Provider: f.e.Provider, Error: "torn down by aftershock cleanup"}
		if err := f.j.Record(e); err != nil {
			c.errs = append(c.errs, err)
		}
	}
}
