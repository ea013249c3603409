package infra

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// RegionCloudSpec describes an aws region's emulated cloud: its API limits,
// its auto-scaling groups and its network operator.
type RegionCloudSpec struct {
	Region string
	// Limits is the limit table of the region's cloud API and issuer.
	Limits cloud.Limits
	// FailedChecks is how many consecutive failed status checks make the
	// auto-scaling group replace a node; 0 means nodes are never replaced.
	FailedChecks int
	// CheckInterval is the time between status checks.
	CheckInterval time.Duration
	// NetworkRetry is the network operator's retry policy.
	NetworkRetry cloud.RetryPolicy
	// InterfacesPerNode is how many interfaces the operator creates per new
	// node (0: cloud.DefaultInterfacesPerNode).
	InterfacesPerNode int
	// OnCall is told every call the cloud API and the issuer answer; it must
	// be safe for concurrent use and should not block.
	OnCall func(cloud.Call)
	// OnReplacement is told every step of every node replacement and
	// scale-up.
	OnReplacement func(cloud.Replacement)
}

// RegionCloud is a running emulated cloud of one region.
type RegionCloud interface {
	// Limits is the limit table in force.
	Limits() cloud.Limits
	// SetLimits changes the limits while the services run.
	SetLimits(cloud.Limits) error
	// Stats counts every call per API, the issuer's logins included.
	Stats() map[string]cloud.APIStats
	// ScaleUp launches n new nodes into cluster; each joins through the
	// registration pipeline on its own. It returns once every instance
	// runs, with the new nodes' names.
	ScaleUp(ctx context.Context, cluster string, n int) ([]string, error)
}

// CloudHost is a fleet that can emulate an aws region's cloud.
type CloudHost interface {
	StartCloud(ctx context.Context, spec RegionCloudSpec) (RegionCloud, error)
}

// GroupMember is a node an auto-scaling group starts with.
type GroupMember struct {
	Node, Group string
}

// CloudWiring is what a fleet gives StartRegionCloud: where the services
// listen and how its nodes behave as instances.
type CloudWiring struct {
	// APIListener and IssuerListener are where the services are served;
	// APIURL is the API's address as the issuer and controllers reach it,
	// through HTTP.
	APIListener, IssuerListener net.Listener
	APIURL                      string
	HTTP                        *http.Client
	// Machines are the region's nodes as instances; Members the nodes the
	// auto-scaling group starts with.
	Machines cloud.Machines
	Members  []GroupMember
	// Networks is each cluster's view for its network operator.
	Networks map[string]cloud.NodeNetworks
	// OnError is told what a server or controller fails with.
	OnError func(error)
}

// StartRegionCloud runs spec's emulated cloud on a fleet: the API and the
// issuer, an auto-scaling group over w.Members (status-checked only when
// spec.FailedChecks is set), and a network operator per cluster of
// w.Networks. Region.Close stops everything.
func StartRegionCloud(ctx context.Context, spec RegionCloudSpec, w CloudWiring) (*cloud.Region, *cloud.AutoScalingGroup, error) {
	if spec.CheckInterval <= 0 {
		spec.CheckInterval = time.Second
	}
	region, err := cloud.StartRegion(ctx, spec.Region, spec.Limits, spec.OnCall, w.APIListener, w.IssuerListener,
		w.APIURL, w.HTTP, w.OnError)
	if err != nil {
		w.APIListener.Close()
		w.IssuerListener.Close()
		return nil, nil, err
	}
	asg := &cloud.AutoScalingGroup{
		Region:        spec.Region,
		API:           cloud.NewClient(w.APIURL, "autoscaling", w.HTTP),
		Machines:      w.Machines,
		FailedChecks:  max(1, spec.FailedChecks),
		CheckInterval: spec.CheckInterval,
		Retry:         cloud.ExponentialRetry(200*time.Millisecond, 5*time.Second),
		Observe:       spec.OnReplacement,
	}
	for i, id := range region.API.Adopt(spec.Region, len(w.Members)) {
		asg.Adopt(w.Members[i].Node, w.Members[i].Group, id)
	}
	if spec.FailedChecks > 0 {
		region.Go(asg.Run)
	}
	for _, cluster := range slices.Sorted(maps.Keys(w.Networks)) {
		op := &cloud.NetworkOperator{
			API:               cloud.NewClient(w.APIURL, "network-operator:"+cluster, w.HTTP),
			Nodes:             w.Networks[cluster],
			Retry:             spec.NetworkRetry,
			InterfacesPerNode: spec.InterfacesPerNode,
		}
		if err := op.Validate(); err != nil {
			region.Close(context.WithoutCancel(ctx))
			return nil, nil, fmt.Errorf("region %s: %w", spec.Region, err)
		}
		region.Go(op.Run)
	}
	return region, asg, nil
}
