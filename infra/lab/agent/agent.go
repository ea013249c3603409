package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is what one agent needs to know about its node and its API server.
type Config struct {
	// Server is the API server's URL, e.g. https://10.1.0.11:6443.
	Server string
	// CAFile verifies the API server; CertFile and KeyFile authenticate the
	// agent.
	CAFile, CertFile, KeyFile string
	NodeName                  string
	// Address is the node's IP: outgoing connections are bound to it, and it
	// is published as the node's InternalIP.
	Address   string
	Labels    map[string]string
	Heartbeat time.Duration
	// KubeletVersion is reported in the node's status.
	KubeletVersion string
	// HealthzPort serves GET /healthz on Address, as the kubelet does on
	// 10248; the cloud's instance status check asks it from outside. 0
	// serves no health endpoint.
	HealthzPort int

	// Bootstrap, for a node that joins on its own (an auto-scaling
	// replacement): before it registers, the agent logs in to the
	// certificate issuer at IssuerURL with its InstanceID, retrying until it
	// gets a certificate.
	IssuerURL  string
	InstanceID string
	// ProviderID is published as the Node's spec.providerID
	// (aws:///<region>/<instance>), which is how the network operator finds
	// the node's instance.
	ProviderID string
	// WaitNetwork keeps the node Ready=False, with NetworkUnavailable=True,
	// until the network operator has attached its network interfaces.
	WaitNetwork bool
}

// ParseArgs reads an agent Config from command-line arguments.
func ParseArgs(args []string) (Config, error) {
	var cfg Config
	var labels string
	fs := flag.NewFlagSet("aftershock-agent", flag.ContinueOnError)
	fs.StringVar(&cfg.Server, "server", "", "API server URL")
	fs.StringVar(&cfg.CAFile, "ca", "", "CA certificate that signed the API server's")
	fs.StringVar(&cfg.CertFile, "cert", "", "client certificate")
	fs.StringVar(&cfg.KeyFile, "key", "", "client key")
	fs.StringVar(&cfg.NodeName, "node", "", "name of the Node object")
	fs.StringVar(&cfg.Address, "address", "", "node IP to dial from and publish")
	fs.StringVar(&labels, "labels", "", "node labels, k=v,k=v")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", time.Second, "lease renewal and status interval")
	fs.StringVar(&cfg.KubeletVersion, "kubelet-version", "v0.0.0", "version reported in node status")
	fs.IntVar(&cfg.HealthzPort, "healthz-port", 0, "serve /healthz on the node address at this port (0: off)")
	fs.StringVar(&cfg.IssuerURL, "issuer", "", "certificate issuer to log in to before registering")
	fs.StringVar(&cfg.InstanceID, "instance-id", "", "cloud instance id to log in with")
	fs.StringVar(&cfg.ProviderID, "provider-id", "", "the Node's spec.providerID")
	fs.BoolVar(&cfg.WaitNetwork, "wait-network", false, "stay NotReady until network interfaces are attached")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	var err error
	if cfg.Labels, err = parseLabels(labels); err != nil {
		return Config{}, err
	}
	if u, err := url.Parse(cfg.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		return Config{}, fmt.Errorf("agent: --server %q is not an https URL", cfg.Server)
	}
	switch {
	case cfg.CAFile == "" || cfg.CertFile == "" || cfg.KeyFile == "":
		return Config{}, errors.New("agent: --ca, --cert and --key are required")
	case cfg.NodeName == "":
		return Config{}, errors.New("agent: --node is required")
	case net.ParseIP(cfg.Address) == nil:
		return Config{}, fmt.Errorf("agent: --address %q is not an IP address", cfg.Address)
	case cfg.Heartbeat <= 0:
		return Config{}, errors.New("agent: --heartbeat must be positive")
	case cfg.HealthzPort < 0 || cfg.HealthzPort > 65535:
		return Config{}, fmt.Errorf("agent: --healthz-port %d is not a port", cfg.HealthzPort)
	case (cfg.IssuerURL == "") != (cfg.InstanceID == ""):
		return Config{}, errors.New("agent: --issuer and --instance-id go together")
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
	args := []string{
		"--server=" + cfg.Server,
		"--ca=" + cfg.CAFile,
		"--cert=" + cfg.CertFile,
		"--key=" + cfg.KeyFile,
		"--node=" + cfg.NodeName,
		"--address=" + cfg.Address,
		"--labels=" + strings.Join(pairs, ","),
		"--heartbeat=" + cfg.Heartbeat.String(),
		"--kubelet-version=" + cfg.KubeletVersion,
		"--healthz-port=" + strconv.Itoa(cfg.HealthzPort),
	}
	if cfg.IssuerURL != "" {
		args = append(args, "--issuer="+cfg.IssuerURL, "--instance-id="+cfg.InstanceID)
	}
	if cfg.ProviderID != "" {
		args = append(args, "--provider-id="+cfg.ProviderID)
	}
	if cfg.WaitNetwork {
		args = append(args, "--wait-network")
	}
	return args
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
	client, err := newHTTPClient(cfg)
	if err != nil {
		return fmt.Errorf("agent %s: %w", cfg.NodeName, err)
	}
	if cfg.HealthzPort > 0 {
		stop, err := serveHealthz(cfg)
		if err != nil {
			return fmt.Errorf("agent %s: %w", cfg.NodeName, err)
		}
		defer stop()
	}
	if cfg.IssuerURL != "" {
		if err := login(ctx, cfg, log); err != nil {
			return nil // ctx ended before the node could join
		}
	}
	hb := &heartbeater{cfg: cfg, api: &apiClient{server: cfg.Server, http: client}, log: log}
	ticker := time.NewTicker(cfg.Heartbeat)
	defer ticker.Stop()
	for {
		if err := hb.beat(ctx); err != nil {
			log.Debug("heartbeat failed", "node", cfg.NodeName, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// newHTTPClient dials from the node's address, so every request takes the
// node's own routing. HTTP/1.1 with a per-request timeout: a request stuck on
// a cut network is abandoned with its connection, and the next one dials anew.
func newHTTPClient(cfg Config) (*http.Client, error) {
	caPEM, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", cfg.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	dialer := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(cfg.Address)},
		Timeout:   cfg.Heartbeat,
		KeepAlive: cfg.Heartbeat,
	}
	return &http.Client{
		Timeout: 2 * cfg.Heartbeat,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: cfg.Heartbeat,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     30 * time.Second,
		},
	}, nil
}
