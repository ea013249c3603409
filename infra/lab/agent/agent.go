package agent

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Config is what one agent needs to know about its node.
type Config struct {
	Kubeconfig string
	NodeName   string
	// Address is the node's IP: outgoing connections are bound to it, and it
	// is published as the node's InternalIP.
	Address   string
	Labels    map[string]string
	Heartbeat time.Duration
	// KubeletVersion is reported in the node's status.
	KubeletVersion string
}

// ParseArgs reads an agent Config from command-line arguments.
func ParseArgs(args []string) (Config, error) {
	var cfg Config
	var labels string
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig of the node's cluster")
	fs.StringVar(&cfg.NodeName, "node", "", "name of the Node object")
	fs.StringVar(&cfg.Address, "address", "", "node IP to dial from and publish")
	fs.StringVar(&labels, "labels", "", "node labels, k=v,k=v")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", time.Second, "lease renewal and status interval")
	fs.StringVar(&cfg.KubeletVersion, "kubelet-version", "v0.0.0", "version reported in node status")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	var err error
	if cfg.Labels, err = parseLabels(labels); err != nil {
		return Config{}, err
	}
	switch {
	case cfg.Kubeconfig == "":
		return Config{}, fmt.Errorf("agent: --kubeconfig is required")
	case cfg.NodeName == "":
		return Config{}, fmt.Errorf("agent: --node is required")
	case net.ParseIP(cfg.Address) == nil:
		return Config{}, fmt.Errorf("agent: --address %q is not an IP address", cfg.Address)
	case cfg.Heartbeat <= 0:
		return Config{}, fmt.Errorf("agent: --heartbeat must be positive")
	}
	return cfg, nil
}

// Args renders cfg as the command-line arguments ParseArgs reads.
func (cfg Config) Args() []string {
	keys := make([]string, 0, len(cfg.Labels))
	for k := range cfg.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+cfg.Labels[k])
	}
	return []string{
		"--kubeconfig=" + cfg.Kubeconfig,
		"--node=" + cfg.NodeName,
		"--address=" + cfg.Address,
		"--labels=" + strings.Join(pairs, ","),
		"--heartbeat=" + cfg.Heartbeat.String(),
		"--kubelet-version=" + cfg.KubeletVersion,
	}
}

func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if s == "" {
		return labels, nil
	}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("agent: label %q is not k=v", pair)
		}
		labels[k] = v
	}
	return labels, nil
}

// Run registers the node and heartbeats until ctx ends. Failed heartbeats are
// logged and retried on the next tick: an unreachable API server is exactly
// what the lab's faults produce.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	rest, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("agent %s: load kubeconfig: %w", cfg.NodeName, err)
	}
	dialer := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(cfg.Address)},
		Timeout:   cfg.Heartbeat,
		KeepAlive: cfg.Heartbeat,
	}
	rest.Dial = dialer.DialContext
	rest.Timeout = 2 * cfg.Heartbeat
	// One short-lived HTTP/1.1 connection per failure beats an HTTP/2
	// connection that stays wedged after the network comes back.
	rest.NextProtos = []string{"http/1.1"}
	rest.QPS, rest.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("agent %s: client: %w", cfg.NodeName, err)
	}
	a := &heartbeater{cfg: cfg, client: client, log: log}
	ticker := time.NewTicker(cfg.Heartbeat)
	defer ticker.Stop()
	for {
		if err := a.beat(ctx); err != nil {
			log.Debug("heartbeat failed", "node", cfg.NodeName, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

type heartbeater struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger

	node *corev1.Node
	// lease is the last Lease this agent wrote, for optimistic concurrency.
	lease *coordinationv1.Lease
	// healthy is whether the previous heartbeat got through; the first one
	// after a gap marks the Ready condition's transition.
	healthy bool
}

func (a *heartbeater) beat(ctx context.Context) error {
	ok := false
	defer func() { a.healthy = ok }()
	if a.node == nil {
		if err := a.register(ctx); err != nil {
			return err
		}
	}
	if err := a.renewLease(ctx); err != nil {
		return err
	}
	if err := a.postReady(ctx); err != nil {
		return err
	}
	ok = true
	return nil
}

func (a *heartbeater) register(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: a.cfg.Labels}}
	created, err := a.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// A rebooted node keeps its identity: reuse the Node, refresh labels.
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": a.cfg.Labels}})
		created, err = a.client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
	}
	a.node = created
	a.log.Info("registered", "node", a.cfg.NodeName)
	return nil
}

func (a *heartbeater) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	if a.lease == nil {
		existing, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			created, err := leases.Create(ctx, a.newLease(now), metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create lease %s: %w", a.cfg.NodeName, err)
			}
			a.lease = created
			return nil
		case err != nil:
			return fmt.Errorf("get lease %s: %w", a.cfg.NodeName, err)
		}
		a.lease = existing
	}
	lease := a.lease.DeepCopy()
	lease.Spec.RenewTime = &now
	lease.Spec.HolderIdentity = &a.cfg.NodeName
	updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		a.lease = nil // re-read it next time: a conflict or a lost update
		return fmt.Errorf("renew lease %s: %w", a.cfg.NodeName, err)
	}
	a.lease = updated
	return nil
}

func (a *heartbeater) newLease(now metav1.MicroTime) *coordinationv1.Lease {
	seconds := int32(max(1, 40*a.cfg.Heartbeat/time.Second))
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      a.cfg.NodeName,
			Namespace: corev1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: a.node.Name, UID: a.node.UID,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &a.cfg.NodeName,
			LeaseDurationSeconds: &seconds,
			RenewTime:            &now,
		},
	}
}

func (a *heartbeater) postReady(ctx context.Context) error {
	now := metav1.Now()
	ready := map[string]any{
		"type":              corev1.NodeReady,
		"status":            corev1.ConditionTrue,
		"reason":            "AgentReady",
		"message":           "aftershock node agent is posting ready status",
		"lastHeartbeatTime": now,
	}
	if !a.healthy {
		ready["lastTransitionTime"] = now
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"conditions": []any{ready},
		"addresses": []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: a.cfg.Address},
			{Type: corev1.NodeHostName, Address: a.cfg.NodeName},
		},
		"nodeInfo": map[string]any{"kubeletVersion": a.cfg.KubeletVersion},
	}})
	if err != nil {
		return fmt.Errorf("encode status of %s: %w", a.cfg.NodeName, err)
	}
	_, err = a.client.CoreV1().Nodes().PatchStatus(ctx, a.cfg.NodeName, patch)
	if err != nil {
		return fmt.Errorf("post status of %s: %w", a.cfg.NodeName, err)
	}
	return nil
}
