package kind

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/cloud"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

var _ infra.CloudHost = (*Fleet)(nil)

// Where an aws region's emulated services listen: on the host's address on
// the region's Docker network, so that nodes reach them through their own
// routing.
const (
	cloudAPIPort = 8773 // the EC2-compatible port Eucalyptus used
	issuerPort   = 8200 // Vault's
	// kubeletPort is what the status check connects to: any answer, even a
	// refusal while the kubelet is not up yet, proves the instance reachable.
	kubeletPort = 10250
)

// loginRetry is how a joining node retries its issuer login, like Vault
// agent's auto-auth (and the lab's node agent).
var loginRetry = cloud.ExponentialRetry(500*time.Millisecond, 5*time.Second)

// regionCloud is one aws region's emulated cloud on kind: the cloud API and
// the issuer served on the region network's gateway, an auto-scaling group
// for the region and a network operator per cluster.
type regionCloud struct {
	*cloud.Region
	fleet     *Fleet
	spec      infra.RegionCloudSpec
	asg       *cloud.AutoScalingGroup
	issuerURL string
}

// StartCloud serves the region's cloud API and issuer on the host's address
// on the region's network, puts the region's nodes that host no control
// plane in an auto-scaling group when spec.FailedChecks is set, and runs a
// network operator per cluster, as the lab does.
func (f *Fleet) StartCloud(ctx context.Context, spec infra.RegionCloudSpec) (infra.RegionCloud, error) {
	region := f.plan.region(spec.Region)
	if region == nil {
		return nil, fmt.Errorf("unknown region %q", spec.Region)
	}
	if cl := f.cloudOf(spec.Region); cl != topology.AWS {
		return nil, fmt.Errorf("region %s runs on %s: only aws regions have an emulated cloud API and auto-scaling groups", spec.Region, cl)
	}
	f.mu.Lock()
	for _, c := range f.clouds {
		if c.spec.Region == spec.Region {
			f.mu.Unlock()
			return nil, fmt.Errorf("region %s: its cloud is already running", spec.Region)
		}
	}
	f.mu.Unlock()
	if err := f.readJoinTemplates(ctx, spec.Region); err != nil {
		return nil, fmt.Errorf("region %s: %w", spec.Region, err)
	}
	gateway, err := f.docker.gateway(ctx, region.Network)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", spec.Region, err)
	}
	rc := &regionCloud{fleet: f, spec: spec}
	apiURL := "http://" + net.JoinHostPort(gateway, strconv.Itoa(cloudAPIPort))
	rc.issuerURL = "http://" + net.JoinHostPort(gateway, strconv.Itoa(issuerPort))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	apiL, err := net.Listen("tcp", net.JoinHostPort(gateway, strconv.Itoa(cloudAPIPort)))
	if err != nil {
		return nil, fmt.Errorf("region %s: serve cloud API: %w", spec.Region, err)
	}
	issuerL, err := net.Listen("tcp", net.JoinHostPort(gateway, strconv.Itoa(issuerPort)))
	if err != nil {
		apiL.Close()
		return nil, fmt.Errorf("region %s: serve issuer: %w", spec.Region, err)
	}
	var members []infra.GroupMember
	for _, n := range f.groupMembers(spec.Region) {
		members = append(members, infra.GroupMember{Node: n.Name, Group: n.Cluster})
	}
	networks := map[string]cloud.NodeNetworks{}
	for _, cp := range f.plan.Clusters {
		if cp.Region == spec.Region {
			// A launched node has no CNI configuration until the provider
			// writes it on Attached, so its kubelet reports the network not
			// ready until then.
			networks[cp.Name] = infra.NodeNetworks{
				Client:   func() (kubernetes.Interface, error) { return f.clientset(cp.Name) },
				Attached: f.attachNetwork,
			}
		}
	}
	rc.Region, rc.asg, err = infra.StartRegionCloud(ctx, spec, infra.CloudWiring{
		APIListener: apiL, IssuerListener: issuerL, APIURL: apiURL, HTTP: hc,
		Machines: kindMachines{rc}, Members: members, Networks: networks,
		OnError: func(err error) { f.log.Warn("emulated cloud", "err", err) },
	})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.clouds = append(f.clouds, rc)
	f.mu.Unlock()
	return rc, nil
}

// groupMembers are the region's running topology nodes that host no control
// plane: child workers, and parent workers that relay no child. In 2023 the
// control-plane hosts came back by themselves, their etcd being on network
// disks.
func (f *Fleet) groupMembers(region string) []nodePlan {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []nodePlan
	for _, cp := range f.plan.Clusters {
		if cp.Region != region {
			continue
		}
		for _, n := range cp.Nodes {
			if n.Topo == nil || n.Topo.Role == topology.ControlPlane || f.terminated[n.Container] || len(f.plan.hostedBy(n.Name)) > 0 {
				continue
			}
			out = append(out, n)
		}
	}
	return out
}

func (f *Fleet) cloudOf(region string) topology.Cloud {
	for _, r := range f.plan.Topology.Regions {
		if r.Name == region {
			return r.Cloud
		}
	}
	return ""
}

// stopClouds stops every region's emulated cloud, joins in flight included.
func (f *Fleet) stopClouds(ctx context.Context) {
	f.mu.Lock()
	clouds := f.clouds
	f.clouds = nil
	f.mu.Unlock()
	for _, c := range clouds {
		c.Close(ctx)
	}
}

func (rc *regionCloud) ScaleUp(ctx context.Context, cluster string, n int) ([]string, error) {
	if cp := rc.fleet.plan.cluster(cluster); cp == nil || cp.Region != rc.spec.Region {
		return nil, fmt.Errorf("cluster %q is not in region %s", cluster, rc.spec.Region)
	}
	return rc.asg.ScaleUp(ctx, cluster, n)
}

// kindMachines are the region's node containers as cloud instances.
type kindMachines struct{ rc *regionCloud }

// StatusCheck is EC2's reachability check: a TCP connection from the host
// to the node's kubelet port, through the node's own routing. An answer,
// even a refusal from a node whose kubelet is not up yet, passes; silence
// (a node whose rules were flushed cannot route its reply) fails.
func (m kindMachines) StatusCheck(ctx context.Context, node string) error {
	addr, err := m.rc.fleet.address(node)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr, strconv.Itoa(kubeletPort)))
	if err == nil {
		conn.Close()
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	return fmt.Errorf("status check of %s: %w", node, err)
}

// Terminate removes the node's container and deletes its Node object, as
// the cloud controller manager does once the instance is gone.
func (m kindMachines) Terminate(ctx context.Context, node string) error {
	f := m.rc.fleet
	cp, n := f.plan.node(node)
	if n == nil {
		return fmt.Errorf("terminate: unknown node %q", node)
	}
	if err := f.Terminate(ctx, node); err != nil {
		return err
	}
	if cs, err := f.clientset(cp.Name); err == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_ = cs.CoreV1().Nodes().Delete(dctx, node, metav1.DeleteOptions{}) // best effort: the API server may be down
	}
	return nil
}

// Launch starts a new node container for the cluster on the instance and
// returns its name once it has booted. The node then joins on its own, as
// the lab's agent does: it logs in to the issuer, joins with kubeadm under
// spec.providerID aws:///<region>/<instance>, and stays NotReady until the
// network operator has attached its interfaces.
func (m kindMachines) Launch(ctx context.Context, cluster, instanceID string) (string, error) {
	f := m.rc.fleet
	name, err := f.launch(ctx, cluster)
	if err != nil {
		return "", err
	}
	m.rc.Go(func(ctx context.Context) error { return f.join(ctx, name, instanceID, m.rc.issuerURL) })
	return name, nil
}

func providerID(region, instanceID string) string {
	return "aws:///" + region + "/" + instanceID
}

// clientset is a client of the cluster's API server.
func (f *Fleet) clientset(cluster string) (*kubernetes.Clientset, error) {
	cfg, err := f.RESTConfig(cluster)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// address is the node container's current address.
func (f *Fleet) address(node string) (string, error) {
	_, n := f.plan.node(node)
	if n == nil {
		return "", fmt.Errorf("unknown node %q", node)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[n.Container]
	if !ok || c.IP == "" {
		return "", fmt.Errorf("node %s has no address", node)
	}
	return c.IP, nil
}

// login gets the node's certificate from the issuer, from inside the node's
// network namespace, retrying every failure until it succeeds or ctx ends.
func (f *Fleet) login(ctx context.Context, node, instanceID, issuerURL string) error {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: f.dialFrom(node), MaxIdleConnsPerHost: 1}}
	attempts, err := cloud.NewClient(issuerURL, node, hc).LoginUntilIssued(ctx, loginRetry, instanceID)
	if err != nil {
		return err
	}
	f.log.Info("certificate issued", "node", node, "instance", instanceID, "attempts", attempts)
	return nil
}
