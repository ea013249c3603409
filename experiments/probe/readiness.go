package probe

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/aftershock-sre/aftershock/experiments"
	"github.com/aftershock-sre/aftershock/infra"
)

// Readiness watches the Node objects of one cluster and appends a
// KindNodeReady event whenever a node's Ready condition is first seen or
// changes between Ready and NotReady (Unknown and False both count as
// NotReady, as kubectl shows them).
type Readiness struct {
	Cluster string
	Region  string
	Config  *rest.Config
	// Timeline receives the events.
	Timeline *experiments.Timeline

	mu     sync.Mutex
	last   map[string]string
	store  cache.Store
	cutOff bool // the control plane is unreachable: readiness unknown
}

// Run watches until ctx ends. It returns once the informer's first list has
// synced (so every registered node has a first sample) or ctx ends; the watch
// goes on in the background until ctx is done.
func (r *Readiness) Run(ctx context.Context) error {
	cfg := rest.CopyConfig(r.Config)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("readiness probe for %s: %w", r.Cluster, err)
	}
	r.last = map[string]string{}
	factory := informers.NewSharedInformerFactory(client, 0)
	informer := factory.Core().V1().Nodes().Informer()
	r.store = informer.GetStore()
	_, err = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.observe(obj) },
		UpdateFunc: func(_, obj any) { r.observe(obj) },
		DeleteFunc: func(obj any) { r.forget(obj) },
	})
	if err != nil {
		return fmt.Errorf("readiness probe for %s: %w", r.Cluster, err)
	}
	factory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return fmt.Errorf("readiness probe for %s: %w", r.Cluster, ctx.Err())
	}
	return nil
}

// SetReachable tells the probe whether its cluster's API server answers.
// While it does not, no node of the cluster can be vouched for: every node is
// recorded NotReady (readiness unknown), as kubectl shows them once the node
// controller catches up. When it answers again, every node is observed anew.
// Either way, the nodes are observed at one instant, so no order among them
// is invented.
func (r *Readiness) SetReachable(reachable bool) {
	at := r.Timeline.Clock().Now()
	r.mu.Lock()
	r.cutOff = !reachable
	var unknown []string
	if !reachable {
		for name, st := range r.last {
			if st == experiments.Ready {
				r.last[name] = experiments.NotReady
				unknown = append(unknown, name)
			}
		}
	}
	r.mu.Unlock()
	for _, name := range unknown {
		r.append(at, name, "", experiments.NotReady, "control plane unreachable: readiness unknown")
	}
	if reachable && r.store != nil {
		for _, obj := range r.store.List() {
			r.observeAt(at, obj)
		}
	}
}

func (r *Readiness) observe(obj any) { r.observeAt(time.Time{}, obj) }

// forget drops a deleted Node (a terminated instance) from Current.
func (r *Readiness) forget(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	r.mu.Lock()
	delete(r.last, node.Name)
	r.mu.Unlock()
}

// observeAt records the node's readiness if it changed; a zero time means
// now.
func (r *Readiness) observeAt(at time.Time, obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok || node.Labels[infra.LabelHostedOn] != "" {
		return
	}
	status := experiments.NotReady
	reason := "no Ready condition"
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			reason = fmt.Sprintf("Ready=%s (%s)", c.Status, c.Reason)
			if c.Status == corev1.ConditionTrue {
				status = experiments.Ready
			}
		}
	}
	r.mu.Lock()
	if r.cutOff {
		r.mu.Unlock()
		return // a stale cache says nothing while the control plane is away
	}
	changed := r.last[node.Name] != status
	r.last[node.Name] = status
	r.mu.Unlock()
	if changed {
		r.append(at, node.Name, node.Labels[infra.LabelRegion], status, reason)
	}
}

func (r *Readiness) append(at time.Time, node, region, status, reason string) {
	if region == "" {
		region = r.Region
	}
	r.Timeline.Append(experiments.Event{
		Time:    at,
		Kind:    experiments.KindNodeReady,
		Status:  status,
		Region:  region,
		Cluster: r.Cluster,
		Node:    node,
		Detail:  map[string]string{"condition": reason},
	})
}

// Current returns the last status seen for each node.
func (r *Readiness) Current() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.last))
	for k, v := range r.last {
		out[k] = v
	}
	return out
}

// ControlPlane polls one cluster's API server /readyz and appends a
// KindControlPlane event on the first sample and on every change between
// reachable and unreachable.
type ControlPlane struct {
	Cluster  string
	Region   string
	Config   *rest.Config
	Interval time.Duration
	// Timeout bounds each request; an API server that does not answer in
	// time is unreachable.
	Timeout  time.Duration
	Timeline *experiments.Timeline
	// OnChange, if set, is called with every change of reachability.
	OnChange func(reachable bool)

	mu   sync.Mutex
	last string
}

// Run polls until ctx ends.
func (p *ControlPlane) Run(ctx context.Context) error {
	cfg := rest.CopyConfig(p.Config)
	cfg.Timeout = p.Timeout
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("control-plane probe for %s: %w", p.Cluster, err)
	}
	ticker := time.NewTicker(p.Interval)
	defer ticker.Stop()
	for {
		reqCtx, cancel := context.WithTimeout(ctx, p.Timeout)
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(reqCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		status, detail := experiments.Reachable, "readyz ok"
		if err != nil {
			status, detail = experiments.Unreachable, err.Error()
		}
		p.record(status, detail)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (p *ControlPlane) record(status, detail string) {
	p.mu.Lock()
	changed := p.last != status
	p.last = status
	p.mu.Unlock()
	if changed {
		p.Timeline.Append(experiments.Event{
			Kind: experiments.KindControlPlane, Status: status, Region: p.Region, Cluster: p.Cluster,
			Detail: map[string]string{"readyz": detail},
		})
		if p.OnChange != nil {
			p.OnChange(status == experiments.Reachable)
		}
	}
}

// Status is the last observed reachability ("" before the first sample).
func (p *ControlPlane) Status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}
