package action

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-multierror"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
)

// Rebooter reboots one node in place; infra.Fleet is one.
type Rebooter interface {
	Reboot(ctx context.Context, node string) error
}

var _ Rebooter = infra.Fleet(nil)

// Group is a named batch of nodes to act on together.
type Group struct {
	Name  string
	Nodes []infra.Node
}

// Procedure is how operators work through the groups.
type Procedure struct {
	// Parallel is how many reboots run at once.
	Parallel int
	// AwaitReady, if set, is called once a group's reboots have finished,
	// with the nodes rebooted, and the next group starts when it returns: as
	// in 2023, operators waited for the parent control planes to serve before
	// they rebooted the nodes that need them. An error is recorded and
	// reported, and the next group still goes ahead.
	AwaitReady func(ctx context.Context, nodes []string) error
}

// RebootInOrder reboots each group's nodes, at most p.Parallel at a time,
// and starts a group only once every reboot of the previous group has
// finished and, with p.AwaitReady, its nodes are Ready again: parent control
// planes, then parent workers, then application nodes. A failed reboot is
// recorded and reported, and the next groups still go ahead; the error names
// every node that failed.
func RebootInOrder(ctx context.Context, fleet Rebooter, groups []Group, p Procedure, tl *experiments.Timeline) error {
	if p.Parallel < 1 {
		return fmt.Errorf("reboot parallelism %d: want at least 1", p.Parallel)
	}
	var errs *multierror.Error
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return err
		}
		errs = multierror.Append(errs, rebootGroup(ctx, fleet, g, p.Parallel, tl))
		if p.AwaitReady == nil || len(g.Nodes) == 0 {
			continue
		}
		names := make([]string, len(g.Nodes))
		for i, n := range g.Nodes {
			names[i] = n.Name
		}
		if err := p.AwaitReady(ctx, names); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			tl.Append(experiments.Event{Kind: experiments.KindAction, Name: "await-ready", Status: "failed",
				Detail: map[string]string{"group": g.Name, "error": err.Error()}})
			errs = multierror.Append(errs, fmt.Errorf("%s not Ready after their reboots: %w", g.Name, err))
		}
	}
	return errs.ErrorOrNil()
}

func rebootGroup(ctx context.Context, fleet Rebooter, g Group, parallel int, tl *experiments.Timeline) error {
	var (
		mu   sync.Mutex
		errs *multierror.Error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, parallel)
	for _, n := range g.Nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			event := experiments.Event{
				Kind: experiments.KindAction, Name: "reboot", Node: n.Name, Cluster: n.Cluster, Region: n.Region,
				Detail: map[string]string{"group": g.Name},
			}
			event.Status = "started"
			tl.Append(event)
			err := fleet.Reboot(ctx, n.Name)
			event.Status = "finished"
			if err != nil {
				event.Status = "failed"
				event.Detail = map[string]string{"group": g.Name, "error": err.Error()}
				mu.Lock()
				errs = multierror.Append(errs, fmt.Errorf("reboot %s (%s): %w", n.Name, g.Name, err))
				mu.Unlock()
			}
			tl.Append(event)
		}()
	}
	wg.Wait()
	return errs.ErrorOrNil()
}
