package scenario

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// StartCloud starts a region's emulated cloud on the fleet and records every
// call it answers and every replacement step on the timeline.
func (s *Scenario) StartCloud(ctx context.Context, spec infra.RegionCloudSpec) error {
	host, ok := s.Fleet.(infra.CloudHost)
	if !ok {
		return fmt.Errorf("region %s: this fleet cannot emulate a cloud", spec.Region)
	}
	region := spec.Region
	spec.OnCall = func(c cloud.Call) {
		s.Timeline.Append(experiments.Event{Time: c.Time, Kind: experiments.KindCloudCall, Name: c.API,
			Status: c.Outcome, Region: region, Node: c.Caller, Detail: map[string]string{"latency": c.Latency.String()}})
	}
	spec.OnReplacement = func(r cloud.Replacement) {
		s.Timeline.Append(instanceEvent(region, r))
		if r.New == "" || r.State != cloud.StateUnregistered {
			return
		}
		// A launched node belongs to this run: faults may act on it.
		for _, n := range s.Fleet.Nodes() {
			if n.Name == r.New {
				_ = s.admit(n) // a node that is already gone again cannot be hit anyway
			}
		}
	}
	rc, err := host.StartCloud(ctx, spec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clouds == nil {
		s.clouds = map[string]infra.RegionCloud{}
	}
	s.clouds[region] = rc
	return nil
}

// instanceEvent turns one step of a replacement or scale-up into a timeline
// event.
func instanceEvent(region string, r cloud.Replacement) experiments.Event {
	e := experiments.Event{Time: r.Time, Kind: experiments.KindInstance, Name: "replacement",
		Status: r.State, Region: region, Cluster: r.Group, Node: r.New, Detail: map[string]string{}}
	if r.Old == "" {
		e.Name = "scale-up"
	} else {
		e.Detail["replaces"] = r.Old
	}
	if r.InstanceID != "" {
		e.Detail["instance"] = r.InstanceID
	}
	if r.Err != nil {
		e.Status = experiments.Failed
		e.Detail["error"] = r.Err.Error()
	}
	return e
}

// Cloud returns the region's running emulated cloud.
func (s *Scenario) Cloud(region string) (infra.RegionCloud, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc, ok := s.clouds[region]
	return rc, ok
}

// ScaleUp launches n new nodes into cluster through the region's
// auto-scaling group.
func (s *Scenario) ScaleUp(ctx context.Context, region, cluster string, n int) error {
	rc, ok := s.Cloud(region)
	if !ok {
		return fmt.Errorf("region %s has no emulated cloud", region)
	}
	s.Timeline.Append(experiments.Event{Kind: experiments.KindAction, Name: "scale-up", Status: "started",
		Region: region, Cluster: cluster, Detail: map[string]string{"nodes": strconv.Itoa(n)}})
	_, err := rc.ScaleUp(ctx, cluster, n)
	return err
}
