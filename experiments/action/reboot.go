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

// RebootInOrder reboots each group's nodes, at most parallel at a time, and
// starts a group only once every reboot of the previous group has finished,
// as operators did in 2023: parent control planes, then parent workers, then
// application nodes. A failed reboot is recorded and reported, and the next
// groups still go ahead; the error names every node that failed.
func RebootInOrder(ctx context.Context, fleet Rebooter, groups []Group, parallel int, tl *experiments.Timeline) error {
	if parallel < 1 {
		return fmt.Errorf("reboot parallelism %d: want at least 1", parallel)
	}
	var errs *multierror.Error
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return err
		}
		errs = multierror.Append(errs, rebootGroup(ctx, fleet, g, parallel, tl))
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
