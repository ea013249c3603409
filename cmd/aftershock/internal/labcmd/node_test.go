package labcmd

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestNodeCommandArgs checks the argument errors of the node commands, which
// need no lab: they fail before attaching to one.
func TestNodeCommandArgs(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"exec without --", []string{"exec", "--run", "x", "n0", "ip", "rule"}, "want NODE -- COMMAND"},
		{"exec without a command", []string{"exec", "--run", "x", "n0", "--"}, "requires at least 2 arg(s)"},
		{"exec of an unknown lab", []string{"exec", "--run", "nolab", "n0", "--", "true"}, "lab nolab: read lab state"},
		{"inventory of an unknown lab", []string{"inventory", "--run", "nolab"}, "lab nolab: read lab state"},
		{"inventory with no lab at all", []string{"inventory"}, "no lab is running"},
		{"reboot without a node", []string{"reboot", "--run", "x"}, "accepts 1 arg(s), received 0"},
		{"terminate with two nodes", []string{"terminate", "--run", "x", "a", "b"}, "accepts 1 arg(s), received 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := NewCommand(slog.New(slog.DiscardHandler), &out, &errOut)
			cmd.SetArgs(append([]string{"--state-root", root}, tt.args...))
			cmd.SetOut(&errOut)
			cmd.SetErr(&errOut)
			err := cmd.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("lab %s: %v, want an error saying %q", strings.Join(tt.args, " "), err, tt.want)
			}
		})
	}
}
