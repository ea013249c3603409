package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The test binary doubles as the programs the package runs, so that unit
// tests see the exact argv terraform-exec and the fleet's actions would run:
// linked as "terraform" it is a fake terraform, and with fakeActionEnv set it
// is a fake action command. Both record their argv in a folder the test
// reads. Real-binary tests live in integration_test.go and examples_test.go.
const (
	fakeDirEnv    = "AFTERSHOCK_TEST_FAKE_DIR"
	fakeActionEnv = "AFTERSHOCK_TEST_FAKE_ACTION"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(fakeDirEnv); dir != "" {
		switch {
		case filepath.Base(os.Args[0]) == "terraform":
			os.Exit(fakeTerraform(dir, os.Args[1:]))
		case os.Getenv(fakeActionEnv) != "":
			os.Exit(fakeAction(dir, os.Args[1:]))
		}
	}
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// record appends argv to <dir>/argv.jsonl.
func record(dir string, argv []string) {
	line, _ := json.Marshal(argv)
	f, err := os.OpenFile(filepath.Join(dir, "argv.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\n", line)
}

// readFile returns <dir>/name, or def if it does not exist.
func readFile(dir, name, def string) string {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return def
	}
	return string(data)
}

func exitCode(dir, name string, def int) int {
	s := strings.TrimSpace(readFile(dir, name, ""))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// fakeTerraform answers the commands terraform-exec runs. Files in dir
// script it: plan.exit, plan.json (what show -json prints), apply.exit,
// apply.stderr, output.json, workspaces.
func fakeTerraform(dir string, args []string) int {
	if len(args) >= 2 && args[0] == "version" && args[1] == "-json" {
		fmt.Println(`{"terraform_version":"1.11.4","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}`)
		return 0
	}
	record(dir, append([]string{"terraform"}, args...))
	switch args[0] {
	case "init":
		fmt.Println("Terraform has been successfully initialized!")
		return 0
	case "workspace":
		if args[1] == "list" {
			fmt.Print(readFile(dir, "workspaces", "* default\n"))
		}
		return 0
	case "plan":
		for _, a := range args {
			if out, ok := strings.CutPrefix(a, "-out="); ok {
				if err := os.WriteFile(out, []byte("fake plan"), 0o644); err != nil {
					panic(err)
				}
			}
		}
		fmt.Println("Plan: 1 to add, 0 to change, 0 to destroy.")
		return exitCode(dir, "plan.exit", 2)
	case "show":
		fmt.Print(readFile(dir, "plan.json", `{"format_version":"1.2"}`))
		return 0
	case "apply":
		fmt.Println("Apply complete!")
		fmt.Fprint(os.Stderr, readFile(dir, "apply.stderr", ""))
		return exitCode(dir, "apply.exit", 0)
	case "output":
		fmt.Print(readFile(dir, "output.json", "{}"))
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake terraform: unexpected command %q\n", args)
	return 1
}

// fakeAction records its argv, prints <dir>/stdout, writes <dir>/stderr to
// stderr and exits with <dir>/exit (default 0). With <dir>/hang it waits to
// be killed.
func fakeAction(dir string, args []string) int {
	record(dir, append([]string{"action"}, args...))
	fmt.Print(readFile(dir, "stdout", ""))
	fmt.Fprint(os.Stderr, readFile(dir, "stderr", ""))
	if _, err := os.Stat(filepath.Join(dir, "hang")); err == nil {
		select {}
	}
	return exitCode(dir, "exit", 0)
}

// fakes is a folder that scripts and records the fakes of one test.
type fakes struct {
	t   *testing.T
	dir string
}

func newFakes(t *testing.T) *fakes {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(fakeDirEnv, dir)
	return &fakes{t: t, dir: dir}
}

// terraform links the test binary as <dir>/bin/terraform and returns it.
func (f *fakes) terraform() string {
	f.t.Helper()
	self, err := os.Executable()
	if err != nil {
		f.t.Fatal(err)
	}
	bin := filepath.Join(f.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		f.t.Fatal(err)
	}
	path := filepath.Join(bin, "terraform")
	if err := os.Symlink(self, path); err != nil && !os.IsExist(err) {
		f.t.Fatal(err)
	}
	return path
}

// action is an argv prefix that runs the fake action.
func (f *fakes) action() []string {
	f.t.Helper()
	self, err := os.Executable()
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Setenv(fakeActionEnv, "1")
	return []string{self}
}

func (f *fakes) set(name, content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// calls returns every recorded argv, in order.
func (f *fakes) calls() [][]string {
	f.t.Helper()
	var out [][]string
	for line := range strings.Lines(readFile(f.dir, "argv.jsonl", "")) {
		var argv []string
		if err := json.Unmarshal([]byte(line), &argv); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, argv)
	}
	return out
}

// subcommands returns the first argument of each recorded terraform call.
func (f *fakes) subcommands() []string {
	var out []string
	for _, c := range f.calls() {
		if len(c) > 1 && c[0] == "terraform" {
			out = append(out, c[1])
		}
	}
	return out
}

// call returns the recorded terraform call whose subcommand is sub (the
// last one), or fails.
func (f *fakes) call(sub string) []string {
	f.t.Helper()
	calls := f.calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if len(calls[i]) > 1 && calls[i][0] == "terraform" && calls[i][1] == sub {
			return calls[i][1:]
		}
	}
	f.t.Fatalf("terraform %s never ran; calls: %q", sub, calls)
	return nil
}

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
