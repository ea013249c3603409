package runcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aftershock-sre/aftershock/experiments/scenario"
	"github.com/aftershock-sre/aftershock/infra/kind"
	"github.com/aftershock-sre/aftershock/infra/lab"
	"github.com/aftershock-sre/aftershock/infra/terraform"
	"github.com/aftershock-sre/aftershock/infra/topology"
	"github.com/aftershock-sre/aftershock/steps"
)

// infraFlags choose and configure the fleet provider.
type infraFlags struct {
	infra string
	// allowGlobal lifts the provider's blast-radius cap.
	allowGlobal bool

	// topologyFile and preset replace every scenario's fleet table.
	topologyFile, preset string

	kindImage  string
	kindRetain bool

	tfDir, tfWorkspace, tfTopologyVar string
	tfVars, tfVarFiles                []string
	tfApply, tfDestroy                bool
}

func addInfraFlags(cmd *cobra.Command, f *infraFlags) {
	cmd.Flags().StringVar(&f.infra, "infra", "lab", "fleet provider: lab, kind or terraform")
	cmd.Flags().StringVar(&f.topologyFile, "topology", "", "build this topology YAML instead of each scenario's fleet table (e.g. a smaller fleet for kind in CI)")
	cmd.Flags().StringVar(&f.preset, "preset", "", "build this preset topology instead of each scenario's fleet table: "+strings.Join(topology.PresetNames(), ", "))
	cmd.Flags().StringVar(&f.kindImage, "kind-image", kind.DefaultNodeImage, "kind: the node image (hack/build-kind-node-image.sh builds the default; kindest/node where Docker can pull)")
	cmd.Flags().BoolVar(&f.kindRetain, "kind-retain", false, "kind: keep the clusters of a failed start, for debugging")
	cmd.Flags().BoolVar(&f.allowGlobal, "allow-global-blast-radius", false, "let a fault hit more nodes than the provider's cap (terraform: 34%)")
	cmd.Flags().StringVar(&f.tfDir, "tf-dir", "", "terraform: the module's working dir (must be marked for game days)")
	cmd.Flags().StringVar(&f.tfWorkspace, "tf-workspace", "", "terraform: the workspace to select (must exist)")
	cmd.Flags().StringArrayVar(&f.tfVars, "tf-var", nil, "terraform: a -var name=value (repeatable)")
	cmd.Flags().StringArrayVar(&f.tfVarFiles, "tf-var-file", nil, "terraform: a -var-file (repeatable)")
	cmd.Flags().BoolVar(&f.tfApply, "tf-apply", false, "terraform: plan and apply the module before the run (else attach to its outputs)")
	cmd.Flags().BoolVar(&f.tfDestroy, "tf-destroy", false, "terraform: destroy the module after the run")
	cmd.Flags().StringVar(&f.tfTopologyVar, "tf-topology-var", "", "terraform: a module variable that receives the scenario's topology file")
}

// errUnknownInfra is returned for an --infra nobody provides.
var errUnknownInfra = errors.New("unknown --infra")

// validate checks the flags before anything is created.
func (f *infraFlags) validate() error {
	switch f.infra {
	case "lab", "kind":
		return nil
	case "terraform":
		if f.tfDir == "" {
			return errors.New("--infra terraform needs --tf-dir, the module's working dir")
		}
		return nil
	}
	return fmt.Errorf("%w %q: want lab, kind or terraform", errUnknownInfra, f.infra)
}

// fleetOverride is the topology that --topology or --preset names, or nil
// when scenarios build their own fleet tables.
func (f *infraFlags) fleetOverride() (*topology.Topology, error) {
	switch {
	case f.topologyFile != "" && f.preset != "":
		return nil, errors.New("--topology and --preset both name a fleet: pass one")
	case f.topologyFile != "":
		t, err := topology.Load(f.topologyFile)
		if err != nil {
			return nil, err
		}
		return &t, nil
	case f.preset != "":
		t, err := topology.Preset(f.preset)
		if err != nil {
			return nil, err
		}
		return &t, nil
	}
	return nil, nil
}

// moduleOptions are the terraform module's options from the flags.
func (f *infraFlags) moduleOptions(progress io.Writer, logger *slog.Logger) terraform.Options {
	return terraform.Options{Dir: f.tfDir, Workspace: f.tfWorkspace, Vars: f.tfVars, VarFiles: f.tfVarFiles,
		Progress: progress, Logger: logger}
}

// provider builds the chosen provider.
func (f *infraFlags) provider(logger *slog.Logger, progress io.Writer) (scenario.Provider, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	if f.infra == "kind" {
		// Services need the program only when a scenario starts one; without
		// it, StartService says so.
		service, _ := lab.FindService()
		return kind.Provider{Options: kind.Options{NodeImage: f.kindImage, Retain: f.kindRetain, ServiceBinary: service, Logger: logger}}, nil
	}
	if f.infra == "terraform" {
		return terraform.Provider{Module: f.moduleOptions(progress, logger), Apply: f.tfApply, Destroy: f.tfDestroy,
			TopologyVar: f.tfTopologyVar}, nil
	}
	if err := lab.Preflight(); err != nil {
		return nil, err
	}
	bins, err := lab.FindBinaries()
	if err != nil {
		return nil, err
	}
	return lab.Provider{Options: lab.Options{Binaries: bins, Logger: logger}}, nil
}

// blastRadius is the cap the provider puts on one fault: lab and kind
// fleets are disposable, so a fault may hit every node; Terraform fleets
// are real.
func (f *infraFlags) blastRadius() steps.BlastRadius {
	b := steps.BlastRadius{Max: 1, Provider: f.infra}
	if f.infra == "terraform" {
		b.Max = terraform.DefaultMaxBlastRadius
	}
	if f.allowGlobal {
		b.Max, b.Lifted = 1, true
	}
	return b
}

// planTerraform prints the Terraform plan summary of the module before the
// fault selection, touching nothing.
func (f *infraFlags) planTerraform(ctx context.Context, out io.Writer, logger *slog.Logger) error {
	m, err := terraform.Open(ctx, f.moduleOptions(nil, logger))
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Init(ctx); err != nil {
		return err
	}
	p, err := m.Plan(ctx, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "terraform plan of %s:\n%s\n", m.Source(), p.Summary())
	return nil
}
