package terraform

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Provider gives a scenario a fleet from a Terraform module: it provisions it
// (Apply) or attaches to what the module already built, reads the inventory,
// and hands back a Fleet. It has the methods of the engine's Provider.
type Provider struct {
	// Module says which working dir, workspace and variables to use.
	Module Options
	// Apply plans and applies the module before reading its outputs. Both
	// need the game-day mark in the plan. Without Apply the provider only
	// runs init and output (attach), and needs the inventory's game_day.
	Apply bool
	// Destroy makes the fleet's Down destroy the module (CI against the lab
	// module). Without it, Down leaves the infrastructure as Terraform left
	// it.
	Destroy bool
	// TopologyVar, if set, names a module variable that receives the path of
	// a YAML file holding the scenario's topology (the lab module's
	// topology_file); the fleet must then match the scenario's topology.
	TopologyVar string
	// MaxBlastRadius is the fleet's cap (0 means DefaultMaxBlastRadius).
	MaxBlastRadius float64
}

// Name is "terraform".
func (Provider) Name() string { return "terraform" }

// Up provisions or attaches to the module's fleet for topo. If it applied
// the module and a later step fails, and Destroy is set, it destroys what it
// applied before returning.
func (p Provider) Up(ctx context.Context, topo topology.Topology) (_ infra.Fleet, err error) {
	opts := p.Module
	m, err := Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	applied := false
	defer func() {
		if err == nil {
			return
		}
		if applied && p.Destroy {
			if derr := m.Destroy(context.WithoutCancel(ctx)); derr != nil {
				err = errors.Join(err, fmt.Errorf("destroy after a failed start: %w", derr))
			}
		}
		_ = m.Close()
	}()
	if p.TopologyVar != "" {
		path := filepath.Join(m.tmp, "topology.yaml")
		if err := writeTopology(path, topo); err != nil {
			return nil, err
		}
		m.opts.Vars = append(append([]string{}, m.opts.Vars...), p.TopologyVar+"="+path)
	}
	if err := m.Init(ctx); err != nil {
		return nil, err
	}
	if p.Apply {
		plan, err := m.Plan(ctx, false)
		if err != nil {
			return nil, err
		}
		if !plan.Marked {
			return nil, &NotMarkedError{Op: "apply", Dir: m.Dir(), Workspace: m.Workspace(), Why: plan.MarkedWhy}
		}
		applied = true
		if err := m.Apply(ctx, plan); err != nil {
			return nil, err
		}
	}
	inv, err := m.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Apply && !inv.GameDay {
		return nil, &NotMarkedError{Op: "attach to", Dir: m.Dir(), Workspace: m.Workspace(),
			Why: "its " + OutputName + " output does not say game_day = true"}
	}
	down := func(ctx context.Context) error {
		if p.Destroy {
			if err := m.Destroy(ctx); err != nil {
				return err
			}
		}
		return m.Close()
	}
	fleet, err := NewFleet(inv, FleetOptions{
		Source:         m.Source(),
		BaseDir:        m.Dir(),
		MaxBlastRadius: p.MaxBlastRadius,
		Progress:       m.opts.Progress,
		Logger:         m.opts.Logger,
		Down:           down,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Source(), err)
	}
	if p.TopologyVar != "" {
		if err := MatchTopology(topo, fleet.Topology()); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Source(), err)
		}
	}
	return fleet, nil
}
