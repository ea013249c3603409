package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// planJSON is what `terraform show -json` prints for a plan that creates one
// resource, with the game-day variable set to gameDay (nil: not declared).
func planJSON(gameDay any, actions ...string) string {
	vars := map[string]any{"run_id": map[string]any{"value": "ci"}}
	if gameDay != nil {
		vars[GameDayVariable] = map[string]any{"value": gameDay}
	}
	if len(actions) == 0 {
		actions = []string{"create"}
	}
	plan := map[string]any{
		"format_version":    "1.2",
		"terraform_version": "1.11.4",
		"variables":         vars,
		"planned_values":    map[string]any{"root_module": map[string]any{}},
		"resource_changes": []any{map[string]any{
			"address": "module.lab.terraform_data.lab", "mode": "managed", "type": "terraform_data", "name": "lab",
			"change": map[string]any{"actions": actions},
		}},
	}
	data, _ := json.Marshal(plan)
	return string(data)
}

func openFake(t *testing.T, f *fakes, opts Options) *Module {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Binary = f.terraform()
	m, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// TestModuleArgv asserts the terraform command lines each step runs.
func TestModuleArgv(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		run  func(ctx context.Context, m *Module) error
		// want are the subcommands run, in order; args must appear in the
		// last one.
		want []string
		args []string
	}{
		{
			name: "init without a workspace",
			run:  func(ctx context.Context, m *Module) error { return m.Init(ctx) },
			want: []string{"init"},
			args: []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false"},
		},
		{
			name: "init selects the workspace",
			opts: Options{Workspace: "gameday"},
			run:  func(ctx context.Context, m *Module) error { return m.Init(ctx) },
			want: []string{"init", "workspace", "workspace"},
			args: []string{"workspace", "select", "-no-color", "gameday"},
		},
		{
			name: "plan passes vars and var files",
			opts: Options{Vars: []string{"aftershock_game_day=true", "run_id=ci"}, VarFiles: []string{"game-day.tfvars"}},
			run:  func(ctx context.Context, m *Module) error { _, err := m.Plan(ctx, false); return err },
			want: []string{"plan", "show"},
			args: []string{"show", "-json", "-no-color"},
		},
		{
			name: "apply applies the saved plan and nothing else",
			opts: Options{Vars: []string{"aftershock_game_day=true"}},
			run: func(ctx context.Context, m *Module) error {
				p, err := m.Plan(ctx, false)
				if err != nil {
					return err
				}
				return m.Apply(ctx, p)
			},
			want: []string{"plan", "show", "apply"},
			args: []string{"apply", "-no-color", "-auto-approve", "-input=false"},
		},
		{
			name: "destroy plans -destroy and applies it",
			run:  func(ctx context.Context, m *Module) error { return m.Destroy(ctx) },
			want: []string{"plan", "show", "apply"},
		},
		{
			name: "output",
			run:  func(ctx context.Context, m *Module) error { _, err := m.Outputs(ctx); return err },
			want: []string{"output"},
			args: []string{"output", "-no-color", "-json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakes(t)
			f.set("plan.json", planJSON(true))
			f.set("workspaces", "* default\n  gameday\n")
			m := openFake(t, f, tt.opts)
			if err := tt.run(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if got := f.subcommands(); !slices.Equal(got, tt.want) {
				t.Fatalf("ran terraform %q, want %q", got, tt.want)
			}
			if len(tt.args) > 0 {
				if got := f.call(tt.args[0]); !containsAll(got, tt.args...) {
					t.Errorf("terraform %q lacks some of %q", got, tt.args)
				}
			}
			if tt.opts.Workspace == "" {
				for _, c := range f.calls() {
					if slices.Contains(c, "workspace") {
						t.Errorf("no workspace asked for, yet ran %q", c)
					}
				}
			}
		})
	}
}

func TestModulePlanAndApplyFiles(t *testing.T) {
	f := newFakes(t)
	f.set("plan.json", planJSON(true))
	m := openFake(t, f, Options{Vars: []string{"aftershock_game_day=true", "run_id=ci"}, VarFiles: []string{"game-day.tfvars"}})
	ctx := context.Background()
	p, err := m.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	plan := f.call("plan")
	for _, w := range []string{"-input=false", "-var-file=game-day.tfvars", "-out=" + p.Path} {
		if !slices.Contains(plan, w) {
			t.Errorf("plan %q lacks %q", plan, w)
		}
	}
	if i := slices.Index(plan, "-var"); i < 0 || plan[i+1] != "aftershock_game_day=true" || !slices.Contains(plan, "run_id=ci") {
		t.Errorf("plan %q lacks -var aftershock_game_day=true -var run_id=ci", plan)
	}
	if slices.Contains(plan, "-destroy") {
		t.Errorf("an apply plan has -destroy: %q", plan)
	}
	if !p.Changes || !p.Marked || len(p.Resources) != 1 || p.Resources[0].Address != "module.lab.terraform_data.lab" {
		t.Errorf("plan %+v", p)
	}
	if got := f.call("show"); got[len(got)-1] != p.Path {
		t.Errorf("show %q does not read the saved plan %s", got, p.Path)
	}
	if err := m.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	apply := f.call("apply")
	if apply[len(apply)-1] != p.Path || slices.Contains(apply, "-var") || slices.ContainsFunc(apply, func(a string) bool { return strings.HasPrefix(a, "-var-file") }) {
		t.Errorf("apply %q must apply the saved plan %s with no variables of its own", apply, p.Path)
	}

	if err := m.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	destroy := f.call("plan")
	if !slices.Contains(destroy, "-destroy") || !slices.Contains(destroy, "-var-file=game-day.tfvars") {
		t.Errorf("destroy plan %q lacks -destroy or the var file", destroy)
	}
	if apply := f.call("apply"); !strings.HasSuffix(apply[len(apply)-1], "destroy.tfplan") {
		t.Errorf("destroy applied %q, want the destroy plan", apply)
	}
}

// TestModuleRefusesUnmarked checks that nothing is applied or destroyed
// where the game-day mark is missing or false.
func TestModuleRefusesUnmarked(t *testing.T) {
	tests := []struct {
		name    string
		gameDay any
		why     string
	}{
		{"not declared", nil, "the module declares no variable aftershock_game_day"},
		{"false", false, "variable aftershock_game_day = false"},
		{"a string", "yes", `variable aftershock_game_day = "yes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakes(t)
			f.set("plan.json", planJSON(tt.gameDay))
			m := openFake(t, f, Options{Workspace: "prod"})
			ctx := context.Background()
			p, err := m.Plan(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			if p.Marked || !strings.Contains(p.Summary(), "NOT marked") {
				t.Errorf("plan marked: %+v\n%s", p, p.Summary())
			}
			for _, op := range []struct {
				name string
				run  func() error
			}{{"apply", func() error { return m.Apply(ctx, p) }}, {"destroy", func() error { return m.Destroy(ctx) }}} {
				err := op.run()
				ne, ok := errors.AsType[*NotMarkedError](err)
				if !ok || !errors.Is(err, ErrNotMarked) || ne.Op != op.name {
					t.Fatalf("%s: %v, want a *NotMarkedError", op.name, err)
				}
				for _, w := range []string{"refusing to " + op.name, "(workspace prod)", tt.why, "aftershock_game_day = true"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: %q does not say %q", op.name, err, w)
					}
				}
			}
			if slices.Contains(f.subcommands(), "apply") {
				t.Errorf("ran terraform apply on an unmarked working dir: %q", f.calls())
			}
		})
	}
}

func TestModuleMarkedByCLIString(t *testing.T) {
	// terraform records -var aftershock_game_day=true as the string "true".
	f := newFakes(t)
	f.set("plan.json", planJSON("true"))
	m := openFake(t, f, Options{Vars: []string{"aftershock_game_day=true"}})
	p, err := m.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Marked || p.MarkedWhy != "variable aftershock_game_day = true" {
		t.Errorf("plan %+v", p)
	}
}

func TestPlanSummary(t *testing.T) {
	p := &Plan{Changes: true, Marked: true, MarkedWhy: "variable aftershock_game_day = true", Resources: []ResourceChange{
		{Address: "a.new", Actions: []string{"create"}},
		{Address: "b.gone", Actions: []string{"delete"}},
		{Address: "c.changed", Actions: []string{"update"}},
		{Address: "d.replaced", Actions: []string{"delete", "create"}},
		{Address: "e.same", Actions: []string{"no-op"}},
	}}
	want := "terraform plan: 2 to add, 1 to change, 2 to destroy.\n  + a.new\n  - b.gone\n  ~ c.changed\n  -/+ d.replaced\n" +
		"game day: marked (variable aftershock_game_day = true)\n"
	if got := p.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}
}

func TestModuleErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("failed apply", func(t *testing.T) {
		f := newFakes(t)
		f.set("plan.json", planJSON(true))
		f.set("apply.exit", "1")
		f.set("apply.stderr", "Error: local-exec provisioner error: exit status 1\n")
		var progress bytes.Buffer
		m := openFake(t, f, Options{Progress: &progress})
		p, err := m.Plan(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		err = m.Apply(ctx, p)
		ce, ok := errors.AsType[*CommandError](err)
		if !ok || ce.Op != "apply" || !strings.Contains(err.Error(), "local-exec provisioner error") {
			t.Errorf("got %v, want a *CommandError for apply with terraform's stderr", err)
		}
		for _, w := range []string{"Plan: 1 to add", "Apply complete!"} {
			if !strings.Contains(progress.String(), w) {
				t.Errorf("progress log lacks terraform's %q:\n%s", w, progress.String())
			}
		}
		if strings.Contains(progress.String(), "format_version") {
			t.Errorf("progress log has show -json's plan:\n%s", progress.String())
		}
	})
	t.Run("missing workspace", func(t *testing.T) {
		f := newFakes(t)
		f.set("workspaces", "* default\n  staging\n")
		m := openFake(t, f, Options{Workspace: "prdo"})
		err := m.Init(ctx)
		if err == nil || !strings.Contains(err.Error(), `workspace "prdo" does not exist (existing: default, staging)`) {
			t.Errorf("got %v", err)
		}
		if slices.Contains(f.subcommands(), "apply") || len(f.calls()) != 2 {
			t.Errorf("ran %q", f.calls())
		}
	})
	t.Run("no aftershock_fleet output", func(t *testing.T) {
		f := newFakes(t)
		f.set("output.json", `{"vpc_id":{"sensitive":false,"type":"string","value":"vpc-1"}}`)
		m := openFake(t, f, Options{})
		_, err := m.Inventory(ctx)
		if !errors.Is(err, ErrNoInventory) || !strings.Contains(err.Error(), "its outputs are vpc_id") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("malformed aftershock_fleet output", func(t *testing.T) {
		f := newFakes(t)
		inv := sampleInventory()
		inv["nodes"].([]any)[0].(map[string]any)["cluster"] = "us1-db"
		f.set("output.json", fmt.Sprintf(`{"aftershock_fleet":{"sensitive":false,"type":"object","value":%s}}`, mustJSON(t, inv)))
		m := openFake(t, f, Options{})
		_, err := m.Inventory(ctx)
		if !errors.Is(err, ErrInvalidInventory) || !strings.Contains(err.Error(), `unknown cluster "us1-db"`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("working dir missing", func(t *testing.T) {
		_, err := Open(ctx, Options{Dir: filepath.Join(t.TempDir(), "nope"), Binary: "/bin/true"})
		if err == nil || !strings.Contains(err.Error(), "not a folder") {
			t.Errorf("got %v", err)
		}
	})
}

func TestFindBinary(t *testing.T) {
	ctx := context.Background()
	t.Run("explicit path", func(t *testing.T) {
		f := newFakes(t)
		path := f.terraform()
		t.Setenv(BinaryEnv, path)
		got, err := FindBinary(ctx)
		if err != nil || got != path {
			t.Errorf("FindBinary() = %q, %v; want %q", got, err, path)
		}
	})
	t.Run("explicit path missing", func(t *testing.T) {
		t.Setenv(BinaryEnv, "/nonexistent/terraform")
		if _, err := FindBinary(ctx); !errors.Is(err, ErrNoBinary) || !strings.Contains(err.Error(), BinaryEnv) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("tofu on PATH", func(t *testing.T) {
		bin := t.TempDir()
		if err := os.WriteFile(filepath.Join(bin, "tofu"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv(BinaryEnv, "")
		t.Setenv("PATH", bin)
		t.Setenv("AFTERSHOCK_CACHE", t.TempDir())
		t.Chdir(t.TempDir())
		got, err := FindBinary(ctx)
		if err != nil || got != filepath.Join(bin, "tofu") {
			t.Errorf("FindBinary() = %q, %v", got, err)
		}
	})
	t.Run("the cache folder hack/terraform.sh builds into", func(t *testing.T) {
		cache := t.TempDir()
		bin := filepath.Join(cache, "terraform", "v1.5.7", "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, "terraform"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv(BinaryEnv, "")
		t.Setenv("PATH", t.TempDir())
		t.Setenv("AFTERSHOCK_CACHE", cache)
		t.Chdir(t.TempDir())
		got, err := FindBinary(ctx)
		if err != nil || got != filepath.Join(bin, "terraform") {
			t.Errorf("FindBinary() = %q, %v", got, err)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv(BinaryEnv, "")
		t.Setenv("PATH", t.TempDir())
		t.Setenv("AFTERSHOCK_CACHE", t.TempDir())
		t.Chdir(t.TempDir())
		_, err := FindBinary(ctx)
		if !errors.Is(err, ErrNoBinary) || !strings.Contains(err.Error(), "hack/terraform.sh") {
			t.Errorf("got %v", err)
		}
	})
}
