package infra

import (
	"context"
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
