package infra

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// NodeNetworks is an aws region's network operator's view of one cluster,
// through its API server (cloud.NodeNetworks): the Nodes that wait for their
// interfaces, and the annotation that records them.
type NodeNetworks struct {
	// Client returns the cluster's API client.
	Client func() (kubernetes.Interface, error)
	// Waiting says whether a Node with an aws:/// providerID and no
	// interfaces recorded waits for them; nil means every such Node does.
	Waiting func(corev1.Node) bool
	// Attached, if set, is called once a node's interfaces are recorded.
	Attached func(ctx context.Context, node string) error
}

var _ cloud.NodeNetworks = NodeNetworks{}

// Pending lists the Nodes that wait for their interfaces, with the instance
// from their providerID (aws:///<region>/<instance>).
func (n NodeNetworks) Pending(ctx context.Context) ([]cloud.PendingNode, error) {
	client, err := n.Client()
	if err != nil {
		return nil, err
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var out []cloud.PendingNode
	for _, node := range nodes.Items {
		id, ok := strings.CutPrefix(node.Spec.ProviderID, "aws:///")
		id = id[strings.LastIndex(id, "/")+1:]
		if !ok || id == "" || node.Annotations[AnnotationNetworkInterfaces] != "" || (n.Waiting != nil && !n.Waiting(node)) {
			continue
		}
		out = append(out, cloud.PendingNode{Name: node.Name, InstanceID: id})
	}
	return out, nil
}

// Attach records the interfaces in the Node's annotation, then calls
// Attached.
func (n NodeNetworks) Attach(ctx context.Context, node string, interfaces []string) error {
	client, err := n.Client()
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{AnnotationNetworkInterfaces: strings.Join(interfaces, ",")}}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("attach interfaces to %s: %w", node, err)
	}
	if n.Attached != nil {
		return n.Attached(ctx, node)
	}
	return nil
}
