package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aftershock-sre/aftershock/infra"
)

// nodeLeaseNamespace holds one Lease per node: the kubelet's heartbeat.
const nodeLeaseNamespace = "kube-node-lease"

type heartbeater struct {
	cfg Config
	api *apiClient
	log *slog.Logger

	nodeUID string
	// lease is the last Lease this agent wrote, for optimistic concurrency.
	lease map[string]any
	// healthy is whether the previous heartbeat got through; the first one
	// after a gap marks the Ready condition's transition.
	healthy bool
	// networkReady is whether the node has its network interfaces (always,
	// unless Config.WaitNetwork).
	networkReady bool
}

// InterfacesAnnotation is where the network operator records the network
// interfaces it attached to a node; a node that waits for its network turns
// Ready when it appears.
const InterfacesAnnotation = infra.AnnotationNetworkInterfaces

func (h *heartbeater) beat(ctx context.Context) error {
	ok := false
	defer func() { h.healthy = ok }()
	if h.nodeUID == "" {
		if err := h.register(ctx); err != nil {
			return err
		}
	}
	if err := h.renewLease(ctx); err != nil {
		return err
	}
	if err := h.postReady(ctx); err != nil {
		return err
	}
	ok = true
	return nil
}

// register creates the Node, or refreshes its labels when it already exists:
// a rebooted node keeps its identity.
func (h *heartbeater) register(ctx context.Context) error {
	node := map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata":   map[string]any{"name": h.cfg.NodeName, "labels": h.cfg.Labels},
	}
	if h.cfg.ProviderID != "" {
		node["spec"] = map[string]any{"providerID": h.cfg.ProviderID}
	}
	var created objectMeta
	err := h.api.do(ctx, http.MethodPost, "/api/v1/nodes", contentJSON, node, &created)
	if errors.Is(err, errConflict) {
		patch := map[string]any{"metadata": map[string]any{"labels": h.cfg.Labels}}
		err = h.api.do(ctx, http.MethodPatch, "/api/v1/nodes/"+h.cfg.NodeName, contentMergePatch, patch, &created)
	}
	if err != nil {
		return fmt.Errorf("register node %s: %w", h.cfg.NodeName, err)
	}
	h.nodeUID = created.Metadata.UID
	h.log.Info("registered", "node", h.cfg.NodeName, "uid", h.nodeUID)
	return nil
}

func (h *heartbeater) leasePath() string {
	return "/apis/coordination.k8s.io/v1/namespaces/" + nodeLeaseNamespace + "/leases/" + h.cfg.NodeName
}

func (h *heartbeater) renewLease(ctx context.Context) error {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	if h.lease == nil {
		var existing map[string]any
		err := h.api.do(ctx, http.MethodGet, h.leasePath(), "", nil, &existing)
		switch {
		case errors.Is(err, errNotFound):
			var created map[string]any
			path := "/apis/coordination.k8s.io/v1/namespaces/" + nodeLeaseNamespace + "/leases"
			if err := h.api.do(ctx, http.MethodPost, path, contentJSON, h.newLease(now), &created); err != nil {
				return fmt.Errorf("create lease %s: %w", h.cfg.NodeName, err)
			}
			h.lease = created
			return nil
		case err != nil:
			return fmt.Errorf("get lease %s: %w", h.cfg.NodeName, err)
		}
		h.lease = existing
	}
	spec, _ := h.lease["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		h.lease["spec"] = spec
	}
	spec["renewTime"] = now
	spec["holderIdentity"] = h.cfg.NodeName
	var updated map[string]any
	if err := h.api.do(ctx, http.MethodPut, h.leasePath(), contentJSON, h.lease, &updated); err != nil {
		h.lease = nil // re-read it next time: a conflict, or an update that may not have landed
		return fmt.Errorf("renew lease %s: %w", h.cfg.NodeName, err)
	}
	h.lease = updated
	return nil
}

func (h *heartbeater) newLease(now string) map[string]any {
	return map[string]any{
		"apiVersion": "coordination.k8s.io/v1",
		"kind":       "Lease",
		"metadata": map[string]any{
			"name":      h.cfg.NodeName,
			"namespace": nodeLeaseNamespace,
			"ownerReferences": []any{map[string]any{
				"apiVersion": "v1", "kind": "Node", "name": h.cfg.NodeName, "uid": h.nodeUID,
			}},
		},
		"spec": map[string]any{
			"holderIdentity":       h.cfg.NodeName,
			"leaseDurationSeconds": max(1, int(40*h.cfg.Heartbeat/time.Second)),
			"renewTime":            now,
		},
	}
}

func (h *heartbeater) postReady(ctx context.Context) error {
	now := time.Now().UTC().Format(time.RFC3339)
	networkReady := h.networkReady || !h.cfg.WaitNetwork
	ready := map[string]any{
		"type":              "Ready",
		"status":            "True",
		"reason":            "AgentReady",
		"message":           "aftershock node agent is posting ready status",
		"lastHeartbeatTime": now,
	}
	if !networkReady {
		ready["status"] = "False"
		ready["reason"] = "NetworkPluginNotReady"
		ready["message"] = "network plugin not ready: waiting for network interfaces"
	}
	if !h.healthy {
		ready["lastTransitionTime"] = now
	}
	conditions := []any{ready}
	if h.cfg.WaitNetwork {
		network := map[string]any{
			"type":               "NetworkUnavailable",
			"status":             "True",
			"reason":             "NoNetworkInterfaces",
			"message":            "the network operator has not attached this node's interfaces",
			"lastHeartbeatTime":  now,
			"lastTransitionTime": now,
		}
		if networkReady {
			network["status"] = "False"
			network["reason"] = "InterfacesAttached"
			network["message"] = "the network operator attached this node's interfaces"
		}
		conditions = append(conditions, network)
	}
	patch := map[string]any{"status": map[string]any{
		"conditions": conditions,
		"addresses": []any{
			map[string]any{"type": "InternalIP", "address": h.cfg.Address},
			map[string]any{"type": "Hostname", "address": h.cfg.NodeName},
		},
		"nodeInfo": map[string]any{"kubeletVersion": h.cfg.KubeletVersion},
	}}
	var node struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	path := "/api/v1/nodes/" + h.cfg.NodeName + "/status"
	if err := h.api.do(ctx, http.MethodPatch, path, contentStrategicMergePatch, patch, &node); err != nil {
		return fmt.Errorf("post status of %s: %w", h.cfg.NodeName, err)
	}
	if !h.networkReady && node.Metadata.Annotations[InterfacesAnnotation] != "" {
		// The operator attached the interfaces: say so on the next beat,
		// which comes at once.
		h.networkReady = true
		if h.cfg.WaitNetwork {
			h.healthy = false // a transition
			return h.postReady(ctx)
		}
	}
	return nil
}
