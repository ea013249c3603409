package lab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Ports of the i-th control plane hosted on one node (a parent worker may host
// several child control planes).
func apiPort(slot int) int        { return 6443 + slot }
func etcdClientPort(slot int) int { return 2379 + 2*slot }
func etcdPeerPort(slot int) int   { return 2380 + 2*slot }

// pkiFiles are the run-wide credentials, under <dir>/pki.
type pkiFiles struct {
	CA, AdminCert, AdminKey, ServiceAccountKey string
}

func pkiPaths(dir string) pkiFiles {
	p := filepath.Join(dir, "pki")
	return pkiFiles{
		CA:                filepath.Join(p, "ca.crt"),
		AdminCert:         filepath.Join(p, "admin.crt"),
		AdminKey:          filepath.Join(p, "admin.key"),
		ServiceAccountKey: filepath.Join(p, "sa.key"),
	}
}

// writePKI creates the run's CA, the admin client certificate, the service
// account key, and a serving certificate and kubeconfigs for every cluster.
func writePKI(s *state) error {
	files := pkiPaths(s.Dir)
	dir := filepath.Dir(files.CA)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki folder: %w", err)
	}
	ca, err := newAuthority("aftershock-lab-" + s.RunID)
	if err != nil {
		return err
	}
	if err := os.WriteFile(files.CA, ca.certPEM(), 0o644); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	admin, err := ca.client("aftershock-admin", "system:masters")
	if err != nil {
		return err
	}
	if _, _, err := admin.write(dir, "admin"); err != nil {
		return err
	}
	saKey, err := serviceAccountKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(files.ServiceAccountKey, saKey, 0o600); err != nil {
		return fmt.Errorf("write service-account key: %w", err)
	}
	for i := range s.Clusters {
		c := &s.Clusters[i]
		if err := os.MkdirAll(clusterDir(s, c.Name), 0o700); err != nil {
			return fmt.Errorf("cluster folder: %w", err)
		}
		serving, err := ca.serving(c.Name, []net.IP{net.ParseIP(c.Address), net.IPv4(127, 0, 0, 1)},
			[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"})
		if err != nil {
			return err
		}
		if _, _, err := serving.write(clusterDir(s, c.Name), "apiserver"); err != nil {
			return err
		}
		if err := writeKubeconfig(c.Kubeconfig, c.Name, apiURL(c.Address, c.APIPort), files); err != nil {
			return err
		}
		if err := writeKubeconfig(localKubeconfig(s, c), c.Name, apiURL("127.0.0.1", c.APIPort), files); err != nil {
			return err
		}
	}
	return nil
}

func apiURL(host string, port int) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func clusterDir(s *state, cluster string) string { return filepath.Join(s.Dir, "clusters", cluster) }

// localKubeconfig is for components on the host node itself (the controller
// manager), which reach their API server on loopback.
func localKubeconfig(s *state, c *clusterState) string {
	return filepath.Join(clusterDir(s, c.Name), "local.kubeconfig")
}

func writeKubeconfig(path, cluster, server string, files pkiFiles) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("kubeconfig folder: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: files.CA}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: files.AdminCert, ClientKey: files.AdminKey}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: "admin"}
	cfg.CurrentContext = cluster
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// controlPlaneCommands returns the argv of etcd, kube-apiserver and
// kube-controller-manager for the cluster, in start order.
func (l *Lab) controlPlaneCommands(c *clusterState) []component {
	s := l.state
	files := pkiPaths(s.Dir)
	dir := clusterDir(s, c.Name)
	timing := s.Topology.Timing
	etcdClient := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.EtcdClientPort))
	etcdPeer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.EtcdPeerPort))
	bins := l.opts.Binaries
	return []component{
		{name: "etcd-" + c.Name, argv: []string{bins.Etcd,
			"--name=" + c.Name,
			"--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + etcdClient,
			"--advertise-client-urls=" + etcdClient,
			"--listen-peer-urls=" + etcdPeer,
			"--initial-advertise-peer-urls=" + etcdPeer,
			"--initial-cluster=" + c.Name + "=" + etcdPeer,
			"--log-level=warn",
		}},
		{name: "kube-apiserver-" + c.Name, argv: []string{bins.APIServer,
			"--etcd-servers=" + etcdClient,
			"--bind-address=0.0.0.0",
			"--advertise-address=" + c.Address,
			"--secure-port=" + strconv.Itoa(c.APIPort),
			"--tls-cert-file=" + filepath.Join(dir, "apiserver.crt"),
			"--tls-private-key-file=" + filepath.Join(dir, "apiserver.key"),
			"--client-ca-file=" + files.CA,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + files.ServiceAccountKey,
			"--service-account-signing-key-file=" + files.ServiceAccountKey,
			"--service-cluster-ip-range=10.96.0.0/16",
			"--authorization-mode=AlwaysAllow",
			"--enable-priority-and-fairness=false",
			"--endpoint-reconciler-type=none",
			"--profiling=false",
			"--watch-cache=false",
		}},
		{name: "kube-controller-manager-" + c.Name, argv: []string{bins.ControllerManager,
			"--kubeconfig=" + localKubeconfig(s, c),
			"--controllers=node-lifecycle-controller",
			"--leader-elect=false",
			"--node-monitor-period=" + (timing.Heartbeat / 2).String(),
			"--node-monitor-grace-period=" + timing.NodeMonitorGracePeriod.String(),
			"--node-startup-grace-period=" + (30 * time.Second).String(),
			"--secure-port=0",
			"--profiling=false",
		}},
	}
}

type component struct {
	name string
	argv []string
}

// startAPIServer starts the cluster's etcd and kube-apiserver on its host.
func (l *Lab) startAPIServer(c *clusterState) error {
	return l.startComponents(c, l.controlPlaneCommands(c)[:2])
}

// startControllers starts the cluster's kube-controller-manager. Call it once
// the API server is ready: the controller manager exits if the API server is
// not healthy within its first seconds, and nothing here restarts it.
func (l *Lab) startControllers(c *clusterState) error {
	return l.startComponents(c, l.controlPlaneCommands(c)[2:])
}

func (l *Lab) startComponents(c *clusterState, components []component) error {
	host, err := l.state.node(c.HostNode)
	if err != nil {
		return err
	}
	for _, comp := range components {
		if err := l.startProcess(host.Namespace, comp.name, comp.argv); err != nil {
			return fmt.Errorf("control plane of %s: %w", c.Name, err)
		}
	}
	return nil
}
