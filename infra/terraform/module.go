package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// GameDayVariable is the module variable that marks a working dir or
// workspace for game days: aftershock applies or destroys only where its
// value in the plan is true. A module may instead declare an output of the
// same name whose planned value is true.
const GameDayVariable = "aftershock_game_day"

// Options say which module to drive and how.
type Options struct {
	// Dir is the module's working dir (where terraform init runs).
	Dir string
	// Workspace is selected after init; it must exist. Empty keeps the
	// current one.
	Workspace string
	// Vars are -var values, "name=value" (HCL syntax for complex types).
	Vars []string
	// VarFiles are -var-file paths, relative to Dir or absolute.
	VarFiles []string
	// Binary is the terraform or tofu executable; empty means FindBinary.
	Binary string
	// Progress, if set, receives terraform's output (init, plan, apply,
	// destroy) as it runs.
	Progress io.Writer
	Logger   *slog.Logger
}

// Module drives one Terraform working dir through terraform-exec. Its
// methods are safe for concurrent use but run one terraform at a time.
type Module struct {
	opts Options
	tf   *tfexec.Terraform
	log  *slog.Logger

	mu  sync.Mutex // one terraform command at a time
	tmp string     // plan files
}

// Open prepares a module for its working dir. It finds the binary but runs
// nothing yet.
func Open(ctx context.Context, opts Options) (*Module, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("terraform working dir %q: %w", opts.Dir, err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("terraform working dir %s: not a folder", opts.Dir)
	}
	opts.Dir = dir
	if opts.Binary == "" {
		if opts.Binary, err = FindBinary(ctx); err != nil {
			return nil, err
		}
	}
	tf, err := tfexec.NewTerraform(dir, opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBinary, err)
	}
	tf.SetLogger(printfLogger{opts.Logger})
	// terraform-exec asks for the version before some commands; ask now,
	// quietly, so that it is cached and a broken binary fails here.
	if err := onLockedThread(func() error { _, _, err := tf.Version(ctx, false); return err }); err != nil {
		return nil, fmt.Errorf("%w: %s version: %v", ErrNoBinary, opts.Binary, err)
	}
	if opts.Progress != nil {
		opts.Progress = &syncWriter{w: opts.Progress}
	}
	tmp, err := os.MkdirTemp("", "aftershock-tf-")
	if err != nil {
		return nil, fmt.Errorf("plan folder: %w", err)
	}
	return &Module{opts: opts, tf: tf, log: opts.Logger, tmp: tmp}, nil
}

// Close removes the module's plan files. The working dir is left as is.
func (m *Module) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tmp == "" {
		return nil
	}
	err := os.RemoveAll(m.tmp)
	m.tmp = ""
	return err
}

// Dir is the module's working dir, absolute.
func (m *Module) Dir() string { return m.opts.Dir }

// Workspace is the workspace the module runs in ("" for the current one).
func (m *Module) Workspace() string { return m.opts.Workspace }

// Binary is the terraform or tofu executable.
func (m *Module) Binary() string { return m.opts.Binary }

// Source names the module in topologies and messages.
func (m *Module) Source() string { return "terraform:" + where(m.opts.Dir, m.opts.Workspace) }

// syncWriter serialises writes: terraform-exec copies stdout and stderr to
// the progress writer from two goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// printfLogger sends terraform-exec's log to slog at debug level.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, v ...any) {
	p.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// run runs one terraform command on a locked OS thread (terraform-exec gives
// terraform Pdeathsig: see onLockedThread), streaming its output to Progress
// if stream is set, and wraps a failure in a *CommandError.
func (m *Module) run(op string, stream bool, fn func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stream && m.opts.Progress != nil {
		m.tf.SetStdout(m.opts.Progress)
		m.tf.SetStderr(m.opts.Progress)
	} else {
		m.tf.SetStdout(nil)
		m.tf.SetStderr(nil)
	}
	if err := onLockedThread(fn); err != nil {
		return &CommandError{Op: op, Dir: m.opts.Dir, Workspace: m.opts.Workspace, Err: err}
	}
	return nil
}

// Init runs terraform init (no upgrade, no input) and selects the workspace.
// A workspace that does not exist is an error, never created: a typo must
// not plan a fresh copy of the infrastructure.
func (m *Module) Init(ctx context.Context) error {
	err := m.run("init", true, func() error {
		return m.tf.Init(ctx, tfexec.Upgrade(false))
	})
	if err != nil || m.opts.Workspace == "" {
		return err
	}
	var current string
	var all []string
	err = m.run("workspace list", false, func() (err error) {
		all, current, err = m.tf.WorkspaceList(ctx)
		return err
	})
	if err != nil || current == m.opts.Workspace {
		return err
	}
	if !slices.Contains(all, m.opts.Workspace) {
		return &CommandError{Op: "workspace select", Dir: m.opts.Dir, Workspace: m.opts.Workspace,
			Err: fmt.Errorf("workspace %q does not exist (existing: %s); create it with `terraform workspace new %s`",
				m.opts.Workspace, strings.Join(all, ", "), m.opts.Workspace)}
	}
	return m.run("workspace select", false, func() error {
		return m.tf.WorkspaceSelect(ctx, m.opts.Workspace)
	})
}

// Plan is a saved plan and what it would do.
type Plan struct {
	// Path is the saved plan file; Apply applies exactly it.
	Path    string
	Destroy bool
	// Changes is false when the plan would change nothing.
	Changes bool
	// Marked reports whether the plan marks the working dir or workspace for
	// game days; MarkedWhy says by what, or what is missing.
	Marked    bool
	MarkedWhy string
	// Resources are the planned resource changes, in address order.
	Resources []ResourceChange
}

// ResourceChange is one resource the plan would change.
type ResourceChange struct {
	Address string
	// Actions are Terraform's: "create", "update", "delete", "read", "no-op".
	Actions []string
}

// Summary is the plan as `aftershock plan --infra terraform` prints it: the
// counts, the resources and the game-day mark.
func (p *Plan) Summary() string {
	var add, change, destroy int
	var lines []string
	for _, r := range p.Resources {
		sym := ""
		switch {
		case slices.Contains(r.Actions, "create") && slices.Contains(r.Actions, "delete"):
			add, destroy, sym = add+1, destroy+1, "-/+"
		case slices.Contains(r.Actions, "create"):
			add, sym = add+1, "+"
		case slices.Contains(r.Actions, "delete"):
			destroy, sym = destroy+1, "-"
		case slices.Contains(r.Actions, "update"):
			change, sym = change+1, "~"
		default:
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s %s", sym, r.Address))
	}
	var b strings.Builder
	if !p.Changes && len(lines) == 0 {
		b.WriteString("terraform plan: no changes.\n")
	} else {
		fmt.Fprintf(&b, "terraform plan: %d to add, %d to change, %d to destroy.\n", add, change, destroy)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	if p.Marked {
		fmt.Fprintf(&b, "game day: marked (%s)\n", p.MarkedWhy)
	} else {
		fmt.Fprintf(&b, "game day: NOT marked (%s): aftershock will not apply or destroy\n", p.MarkedWhy)
	}
	return b.String()
}

// Plan runs terraform plan (-destroy if destroy) into a saved plan, and
// reads it back with terraform show -json to say what it would change and
// whether it marks the working dir or workspace for game days.
func (m *Module) Plan(ctx context.Context, destroy bool) (*Plan, error) {
	m.mu.Lock()
	tmp := m.tmp
	m.mu.Unlock()
	if tmp == "" {
		return nil, errors.New("terraform module is closed")
	}
	name := "apply.tfplan"
	if destroy {
		name = "destroy.tfplan"
	}
	p := &Plan{Path: filepath.Join(tmp, name), Destroy: destroy}
	opts := []tfexec.PlanOption{tfexec.Out(p.Path)}
	if destroy {
		opts = append(opts, tfexec.Destroy(true))
	}
	for _, f := range m.opts.VarFiles {
		opts = append(opts, tfexec.VarFile(f))
	}
	for _, v := range m.opts.Vars {
		opts = append(opts, tfexec.Var(v))
	}
	err := m.run("plan", true, func() (err error) {
		p.Changes, err = m.tf.Plan(ctx, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	var shown *tfjson.Plan
	err = m.run("show", false, func() (err error) {
		shown, err = m.tf.ShowPlanFile(ctx, p.Path)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Marked, p.MarkedWhy = gameDayMark(shown)
	for _, rc := range shown.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		var actions []string
		for _, a := range rc.Change.Actions {
			actions = append(actions, string(a))
		}
		p.Resources = append(p.Resources, ResourceChange{Address: rc.Address, Actions: actions})
	}
	sort.Slice(p.Resources, func(i, j int) bool { return p.Resources[i].Address < p.Resources[j].Address })
	return p, nil
}

// gameDayMark reads the game-day mark from a plan: the variable's value, or
// a known planned output of the same name. The plan records a value given
// with -var or TF_VAR_ as the string Terraform converts to the bool true.
func gameDayMark(p *tfjson.Plan) (bool, string) {
	if o, ok := plannedOutput(p, GameDayVariable); ok && isTrue(o) {
		return true, "output " + GameDayVariable + " = true"
	}
	v, ok := p.Variables[GameDayVariable]
	if !ok || v == nil {
		return false, "the module declares no variable " + GameDayVariable
	}
	if isTrue(v.Value) {
		return true, "variable " + GameDayVariable + " = true"
	}
	return false, fmt.Sprintf("variable %s = %s", GameDayVariable, jsonValue(v.Value))
}

func isTrue(v any) bool { return v == true || v == "true" }

// plannedOutput is the planned value of a root output, or nil.
func plannedOutput(p *tfjson.Plan, name string) (any, bool) {
	if p.PlannedValues == nil || p.PlannedValues.Outputs[name] == nil {
		return nil, false
	}
	return p.PlannedValues.Outputs[name].Value, true
}

func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Apply applies a saved plan. It refuses, with a *NotMarkedError, a plan that
// does not mark the working dir or workspace for game days.
func (m *Module) Apply(ctx context.Context, p *Plan) error {
	op := "apply"
	if p.Destroy {
		op = "destroy"
	}
	if !p.Marked {
		return &NotMarkedError{Op: op, Dir: m.opts.Dir, Workspace: m.opts.Workspace, Why: p.MarkedWhy}
	}
	return m.run(op, true, func() error {
		return m.tf.Apply(ctx, tfexec.DirOrPlan(p.Path))
	})
}

// Destroy plans a destroy, checks the game-day mark, and applies it. With
// nothing to destroy it does nothing more, like rm -f.
func (m *Module) Destroy(ctx context.Context) error {
	p, err := m.Plan(ctx, true)
	if err != nil {
		return err
	}
	if !p.Marked {
		return &NotMarkedError{Op: "destroy", Dir: m.opts.Dir, Workspace: m.opts.Workspace, Why: p.MarkedWhy}
	}
	if !p.Changes {
		return nil
	}
	return m.Apply(ctx, p)
}

// Outputs runs terraform output -json.
func (m *Module) Outputs(ctx context.Context) (map[string]tfexec.OutputMeta, error) {
	var out map[string]tfexec.OutputMeta
	err := m.run("output", false, func() (err error) {
		out, err = m.tf.Output(ctx)
		return err
	})
	return out, err
}

// Inventory reads and validates the aftershock_fleet output.
func (m *Module) Inventory(ctx context.Context) (*Inventory, error) {
	outputs, err := m.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	o, ok := outputs[OutputName]
	if !ok || len(o.Value) == 0 || string(o.Value) == "null" {
		var names []string
		for name := range outputs {
			names = append(names, name)
		}
		sort.Strings(names)
		have := "it has no outputs (was it applied?)"
		if len(names) > 0 {
			have = "its outputs are " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w in %s: %s; see docs/terraform.md for the contract",
			ErrNoInventory, where(m.opts.Dir, m.opts.Workspace), have)
	}
	inv, err := ParseInventory(o.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where(m.opts.Dir, m.opts.Workspace), err)
	}
	return inv, nil
}
