package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/cloud"
	"github.com/aftershock-sre/aftershock/infra/lab/agent"
	"github.com/aftershock-sre/aftershock/infra/lab/internal/namespace"
	"github.com/aftershock-sre/aftershock/infra/nsnet"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

var _ infra.CloudHost = (*Lab)(nil)

// Where an aws region's emulated services listen, on the region's bridge
// address in the fabric namespace: nodes reach them through their own
// routing, and this process through the fabric.
const (
	cloudAPIPort = 8773  // the EC2-compatible port Eucalyptus used
	issuerPort   = 8200  // Vault's
	healthzPort  = 10248 // the kubelet's
)

// regionCloud is one aws region's emulated cloud: the cloud API and the
// certificate issuer served in the fabric, an auto-scaling group per region
// and a network operator per cluster, all stopped by Down.
type regionCloud struct {
	*cloud.Region
	lab  *Lab
	spec infra.RegionCloudSpec
	asg  *cloud.AutoScalingGroup
	// issuerURL is where nodes log in.
	issuerURL string
}

// StartCloud serves the region's cloud API and issuer in the fabric, puts
// the region's nodes that host no control plane in auto-scaling groups (one
// per cluster) when spec.FailedChecks is set, and runs a network operator per
// cluster. Control-plane hosts are left out of the groups: in 2023 they came
// back by themselves, their etcd being on network disks.
func (l *Lab) StartCloud(ctx context.Context, spec infra.RegionCloudSpec) (infra.RegionCloud, error) {
	l.mu.Lock()
	region, err := l.state.region(spec.Region)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if c := l.regionCloudOf(spec.Region); c != nil {
		return nil, fmt.Errorf("region %s: its cloud is already running", spec.Region)
	}
	if cl := l.cloudOf(spec.Region); cl != topology.AWS {
		return nil, fmt.Errorf("region %s runs on %s: only aws regions have an emulated cloud API and auto-scaling groups", spec.Region, cl)
	}
	rc := &regionCloud{lab: l, spec: spec}
	apiURL := "http://" + net.JoinHostPort(region.Gateway, strconv.Itoa(cloudAPIPort))
	rc.issuerURL = "http://" + net.JoinHostPort(region.Gateway, strconv.Itoa(issuerPort))
	fabricHTTP := l.fabricHTTPClient()
	fabric := namespace.Path(l.state.Fabric)
	apiL, err := nsnet.Listen(fabric, "tcp", net.JoinHostPort(region.Gateway, strconv.Itoa(cloudAPIPort)))
	if err != nil {
		return nil, fmt.Errorf("region %s: serve cloud API: %w", spec.Region, err)
	}
	issuerL, err := nsnet.Listen(fabric, "tcp", net.JoinHostPort(region.Gateway, strconv.Itoa(issuerPort)))
	if err != nil {
		apiL.Close()
		return nil, fmt.Errorf("region %s: serve issuer: %w", spec.Region, err)
	}
	l.mu.Lock()
	var members []infra.GroupMember
	for _, n := range l.state.Nodes {
		if n.Region == spec.Region && !n.Terminated && len(l.state.hostedClusters(n.Name)) == 0 {
			members = append(members, infra.GroupMember{Node: n.Name, Group: n.Cluster})
		}
	}
	networks := map[string]cloud.NodeNetworks{}
	for _, c := range l.state.Clusters {
		if c.Region == spec.Region {
			networks[c.Name] = infra.NodeNetworks{
				Client:  func() (kubernetes.Interface, error) { return l.client(c.Name) },
				Waiting: networkUnavailable,
			}
		}
	}
	l.mu.Unlock()
	rc.Region, rc.asg, err = infra.StartRegionCloud(ctx, spec, infra.CloudWiring{
		APIListener: apiL, IssuerListener: issuerL, APIURL: apiURL, HTTP: fabricHTTP,
		Machines: labMachines{rc}, Members: members, Networks: networks,
		OnError: func(err error) { l.log.Warn("emulated cloud", "err", err) },
	})
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.clouds = append(l.clouds, rc)
	l.mu.Unlock()
	return rc, nil
}

func (l *Lab) regionCloudOf(region string) *regionCloud {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.clouds {
		if c.spec.Region == region {
			return c
		}
	}
	return nil
}

func (l *Lab) cloudOf(region string) topology.Cloud {
	for _, r := range l.state.Topology.Regions {
		if r.Name == region {
			return r.Cloud
		}
	}
	return ""
}

// fabricHTTPClient sends requests from the fabric namespace.
func (l *Lab) fabricHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         nsnet.Dialer(namespace.Path(l.state.Fabric), netDialer()),
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}}
}

func (rc *regionCloud) ScaleUp(ctx context.Context, cluster string, n int) ([]string, error) {
	if _, err := rc.lab.state.cluster(cluster); err != nil {
		return nil, err
	}
	return rc.asg.ScaleUp(ctx, cluster, n)
}

// labMachines are the region's lab nodes as cloud instances.
type labMachines struct{ rc *regionCloud }

// StatusCheck asks the node's agent for /healthz from the fabric, through
// the node's real routing: a node whose rules were flushed does not answer.
func (m labMachines) StatusCheck(ctx context.Context, node string) error {
	l := m.rc.lab
	l.mu.Lock()
	n, err := l.state.node(node)
	var addr string
	if err == nil {
		addr = n.Address
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	dial := nsnet.Dialer(namespace.Path(l.state.Fabric), net.Dialer{})
	hc := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(addr, strconv.Itoa(healthzPort))+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("status check of %s: %w", node, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status check of %s: %s", node, resp.Status)
	}
	return nil
}

// Terminate destroys the node and deletes its Node object, as the cloud
// controller manager does once the instance is gone.
func (m labMachines) Terminate(ctx context.Context, node string) error {
	l := m.rc.lab
	n, err := l.nodeCopy(node)
	if err != nil {
		return err
	}
	if err := l.Terminate(ctx, node); err != nil {
		return err
	}
	if c, err := l.client(n.Cluster); err == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_ = c.CoreV1().Nodes().Delete(dctx, node, metav1.DeleteOptions{}) // best effort: the API server may be down
	}
	return nil
}

// Launch boots a new worker of the cluster on the instance; its agent logs in
// to the issuer, registers with spec.providerID and waits for its network.
func (m labMachines) Launch(ctx context.Context, cluster, instanceID string) (string, error) {
	region := m.rc.spec.Region
	return m.rc.lab.addNode(ctx, cluster, func(cfg *agent.Config) {
		cfg.IssuerURL = m.rc.issuerURL
		cfg.InstanceID = instanceID
		cfg.ProviderID = providerID(region, instanceID)
		cfg.WaitNetwork = true
	})
}

func providerID(region, instanceID string) string {
	return "aws:///" + region + "/" + instanceID
}

func (l *Lab) nodeCopy(name string) (nodeState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.state.node(name)
	if err != nil {
		return nodeState{}, err
	}
	return *n, nil
}

// addNode creates a new worker in cluster with the region's next free
// address, named after it as EC2 names instances (ip-10-1-0-42), boots its
// network and starts its agent, adjusted by agentConfig.
func (l *Lab) addNode(ctx context.Context, cluster string, agentConfig func(*agent.Config)) (string, error) {
	l.mu.Lock()
	c, err := l.state.cluster(cluster)
	if err != nil {
		l.mu.Unlock()
		return "", err
	}
	ri, k := 0, 0
	for i, r := range l.state.Regions {
		if r.Name == c.Region {
			ri = i + 1
		}
	}
	for _, n := range l.state.Nodes {
		if n.Region == c.Region {
			k++
		}
	}
	var role topology.ClusterRole
	var cl topology.Cloud
	for _, rc := range l.state.Topology.Clusters() {
		if rc.Cluster.Name == cluster {
			role, cl = rc.Cluster.Role, rc.Region.Cloud
		}
	}
	addr := nodeAddress(ri, k).String()
	name := "ip-" + strings.ReplaceAll(addr, ".", "-")
	ns := NamespacePrefix + l.state.RunID + "-" + name
	l.state.Nodes = append(l.state.Nodes, nodeState{
		Node: infra.Node{
			Node: topology.Node{Name: name, Region: c.Region, Cloud: cl, Cluster: cluster,
				ClusterRole: role, Role: topology.Worker},
			Address:   addr,
			NetNSPath: namespace.Path(ns),
		},
		Namespace:  ns,
		FabricVeth: fmt.Sprintf("v%d", len(l.state.Nodes)),
	})
	n := l.state.Nodes[len(l.state.Nodes)-1]
	err = l.state.save()
	l.mu.Unlock()
	if err != nil {
		return "", err
	}
	if err := createNode(ctx, l.state, &n); err != nil {
		return "", fmt.Errorf("add node %s: %w", name, err)
	}
	if err := l.startAgentWith(&n, agentConfig); err != nil {
		return "", fmt.Errorf("add node %s: %w", name, err)
	}
	return name, nil
}

// networkUnavailable reports whether the Node says NetworkUnavailable=True,
// as a launched lab node's agent does until its interfaces are recorded.
func networkUnavailable(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeNetworkUnavailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// stopClouds stops every region's emulated cloud.
func (l *Lab) stopClouds(ctx context.Context) {
	l.mu.Lock()
	clouds := l.clouds
	l.clouds = nil
	l.mu.Unlock()
	for _, c := range clouds {
		c.Close(ctx)
	}
}
