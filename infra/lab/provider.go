package lab

import (
	"context"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// Provider builds a fresh lab for every scenario.
type Provider struct {
	// Options for every lab; leave RunID empty so each lab gets its own.
	Options Options
}

// Name is the provider's name in reports and flags.
func (Provider) Name() string { return "lab" }

// Up builds a lab for topo and waits until every node is Ready.
func (p Provider) Up(ctx context.Context, topo topology.Topology) (infra.Fleet, error) {
	return Up(ctx, topo, p.Options)
}
