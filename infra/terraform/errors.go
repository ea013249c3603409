package terraform

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers can branch on with errors.Is. The typed errors below
// match them too.
var (
	// ErrNoBinary means no terraform (or tofu) executable was found.
	ErrNoBinary = errors.New("no terraform or tofu executable found")
	// ErrNotMarked means the working dir or workspace is not marked for game
	// days, so aftershock refused to apply or destroy it, or to act on it.
	ErrNotMarked = errors.New("not marked for game days")
	// ErrNoInventory means the module has no aftershock_fleet output.
	ErrNoInventory = errors.New("no aftershock_fleet output")
	// ErrInvalidInventory means the aftershock_fleet output breaks the
	// contract; the *InventoryError values joined in the error say where.
	ErrInvalidInventory = errors.New("invalid aftershock_fleet output")
	// ErrUnknownNode means an action named a node the fleet does not have.
	ErrUnknownNode = errors.New("unknown node")
	// ErrBlastRadius means a selection is above the fleet's blast-radius cap.
	ErrBlastRadius = errors.New("blast radius above the cap")
	// ErrTopologyMismatch means the fleet the module built is not the one the
	// scenario described.
	ErrTopologyMismatch = errors.New("fleet does not match the scenario's topology")
)

// CommandError is a terraform command that failed: init, plan, apply, show,
// output or workspace select.
type CommandError struct {
	// Op is the terraform subcommand ("init", "plan", "apply", ...).
	Op string
	// Dir and Workspace say where it ran.
	Dir, Workspace string
	Err            error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("terraform %s in %s: %v", e.Op, where(e.Dir, e.Workspace), e.Err)
}

func (e *CommandError) Unwrap() error { return e.Err }

// NotMarkedError is a refusal to touch a working dir or workspace that is not
// marked for game days.
type NotMarkedError struct {
	// Op is what was refused: "apply", "destroy" or "attach".
	Op             string
	Dir, Workspace string
	// Why says what was missing.
	Why string
}

func (e *NotMarkedError) Error() string {
	return fmt.Sprintf("refusing to %s %s: %s; mark it for game days with `aftershock_game_day = true` "+
		"(a -var, a var file or *.auto.tfvars; see docs/terraform.md)", e.Op, where(e.Dir, e.Workspace), e.Why)
}

func (e *NotMarkedError) Is(target error) bool { return target == ErrNotMarked }

// InventoryError is one problem of an aftershock_fleet output, located by its
// path in the output, e.g. `nodes[3] "us1-w2".address`.
type InventoryError struct {
	// Path is where in aftershock_fleet the problem is.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e *InventoryError) Error() string {
	if e.Path == "" {
		return "aftershock_fleet: " + e.Msg
	}
	return "aftershock_fleet." + e.Path + ": " + e.Msg
}

func (e *InventoryError) Is(target error) bool { return target == ErrInvalidInventory }

// ActionError is a node action (reboot, terminate, exec) whose command failed.
type ActionError struct {
	Action string
	Node   string
	// Argv is the command that ran.
	Argv []string
	// ExitCode is the command's exit status, or -1 if it did not exit.
	ExitCode int
	// Stderr is the tail of what it wrote to stderr.
	Stderr string
	Err    error
}

func (e *ActionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Action, e.Node, quoteArgv(e.Argv))
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " exited with status %d", e.ExitCode)
	} else {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		fmt.Fprintf(&b, "; stderr: %s", s)
	}
	return b.String()
}

func (e *ActionError) Unwrap() error { return e.Err }

// BlastRadiusError is a selection above the fleet's cap.
type BlastRadiusError struct {
	Selected, Total int
	// Max is the cap, a share of the fleet's nodes.
	Max float64
}

func (e *BlastRadiusError) Error() string {
	return fmt.Sprintf("%d of %d nodes (%.0f%%) is above this fleet's blast-radius cap of %.0f%% of nodes "+
		"(a Terraform fleet is real infrastructure: lower the selection, or allow a global blast radius explicitly)",
		e.Selected, e.Total, 100*float64(e.Selected)/float64(e.Total), 100*e.Max)
}

func (e *BlastRadiusError) Is(target error) bool { return target == ErrBlastRadius }

func where(dir, workspace string) string {
	if workspace == "" || workspace == "default" {
		return dir
	}
	return fmt.Sprintf("%s (workspace %s)", dir, workspace)
}
