package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Kind is how a service spreads over its nodes.
type Kind string

const (
	// Sharded is a statically sharded, share-nothing service: one shard per
	// node, each answering for itself.
	Sharded Kind = "sharded"
	// Quorum is a replicated service that serves only while a majority of its
	// replicas reach each other.
	Quorum Kind = "quorum"
)

// Defaults for the quorum peer checks, as ParseArgs applies them.
const (
	DefaultInterval = 250 * time.Millisecond
	DefaultTimeout  = 300 * time.Millisecond
)

// ErrInvalidConfig is wrapped by every error Validate and ParseArgs return
// for a configuration that cannot run.
var ErrInvalidConfig = errors.New("invalid service config")

// Config is what one shard or replica needs to know.
type Config struct {
	// Service is the service's name, e.g. "metrics-intake" or "tag-index":
	// lowercase letters, digits and '-'.
	Service string
	// Kind is Sharded or Quorum.
	Kind Kind
	// Node is the node's name; it identifies the shard or replica in answers.
	Node string
	// Address is the node's IP: the service listens on it and, for a quorum
	// service, dials its peers from it, so that traffic takes the node's own
	// routing.
	Address string
	// Port is the TCP port the service listens on.
	Port int
	// Peers lists every replica of a quorum service as "ip:port", this one
	// included, so that every replica can be given the same list. Its length
	// is the replica count R, which must be odd. Empty for a sharded service.
	Peers []string
	// Interval is how often a replica checks each peer (quorum only).
	Interval time.Duration
	// Timeout bounds one peer check (quorum only).
	Timeout time.Duration
}

// Addr is the address the service listens on, "ip:port".
func (cfg Config) Addr() string {
	return net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
}

// Validate reports the first thing that keeps cfg from running, wrapping
// ErrInvalidConfig.
func (cfg Config) Validate() error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (cfg Config) validate() error {
	if err := validateName(cfg.Service); err != nil {
		return err
	}
	if cfg.Node == "" {
		return fmt.Errorf("service %s: empty node name", cfg.Service)
	}
	ip := net.ParseIP(cfg.Address)
	switch {
	case ip == nil:
		return fmt.Errorf("service %s on %s: address %q is not an IP address", cfg.Service, cfg.Node, cfg.Address)
	case ip.IsUnspecified():
		return fmt.Errorf("service %s on %s: address %s is unspecified: it must be the node's own IP", cfg.Service, cfg.Node, cfg.Address)
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return fmt.Errorf("service %s on %s: port %d is outside 1-65535", cfg.Service, cfg.Node, cfg.Port)
	}
	switch cfg.Kind {
	case Sharded:
		if len(cfg.Peers) > 0 {
			return fmt.Errorf("service %s on %s: a sharded service has no peers, got %d", cfg.Service, cfg.Node, len(cfg.Peers))
		}
		return nil
	case Quorum:
		return cfg.validateQuorum(ip)
	}
	return fmt.Errorf("service %s on %s: kind %q is neither %q nor %q", cfg.Service, cfg.Node, cfg.Kind, Sharded, Quorum)
}

func (cfg Config) validateQuorum(self net.IP) error {
	where := fmt.Sprintf("service %s on %s", cfg.Service, cfg.Node)
	n := len(cfg.Peers)
	switch {
	case n == 0:
		return fmt.Errorf("%s: replica count 0: a quorum service needs at least one replica (list every replica in peers, this one included)", where)
	case n%2 == 0:
		return fmt.Errorf("%s: replica count %d is even: a quorum service needs an odd number of replicas", where, n)
	case cfg.Interval <= 0:
		return fmt.Errorf("%s: check interval %s must be positive", where, cfg.Interval)
	case cfg.Timeout <= 0:
		return fmt.Errorf("%s: check timeout %s must be positive", where, cfg.Timeout)
	}
	seen := make(map[string]bool, n)
	found := false
	for _, p := range cfg.Peers {
		ip, port, err := parsePeer(p)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		key := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		if seen[key] {
			return fmt.Errorf("%s: peer %s is listed twice", where, p)
		}
		seen[key] = true
		if ip.Equal(self) && port == cfg.Port {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: peers %v do not include this replica's own address %s", where, cfg.Peers, cfg.Addr())
	}
	return nil
}

func parsePeer(p string) (net.IP, int, error) {
	host, portStr, err := net.SplitHostPort(p)
	if err != nil {
		return nil, 0, fmt.Errorf("peer %q is not ip:port: %w", p, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil, 0, fmt.Errorf("peer %q: %q is not a node IP address", p, host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, 0, fmt.Errorf("peer %q: port %q is outside 1-65535", p, portStr)
	}
	return ip, port, nil
}

func validateName(name string) error {
	if name == "" {
		return errors.New("empty service name")
	}
	if len(name) > 63 {
		return fmt.Errorf("service name %q is longer than 63 characters", name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(name)-1
		if !ok {
			return fmt.Errorf("service name %q: only lowercase letters, digits and inner '-' are allowed", name)
		}
	}
	return nil
}

// ParseArgs reads a Config from command-line arguments, as Args renders them,
// and validates it.
func ParseArgs(args []string) (Config, error) {
	var cfg Config
	var kind, peers string
	fs := flag.NewFlagSet("aftershock-service", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Service, "service", "", "service name, e.g. tag-index")
	fs.StringVar(&kind, "kind", "", "sharded or quorum")
	fs.StringVar(&cfg.Node, "node", "", "node name: the shard's or replica's id")
	fs.StringVar(&cfg.Address, "address", "", "node IP to listen on and dial from")
	fs.IntVar(&cfg.Port, "port", 0, "TCP port to listen on")
	fs.StringVar(&peers, "peers", "", "quorum: every replica as ip:port,ip:port, this one included")
	fs.DurationVar(&cfg.Interval, "interval", DefaultInterval, "quorum: how often each peer is checked")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "quorum: timeout of one peer check")
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected arguments %q", ErrInvalidConfig, fs.Args())
	}
	cfg.Kind = Kind(kind)
	if peers != "" {
		cfg.Peers = strings.Split(peers, ",")
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Args renders cfg as the command-line arguments ParseArgs reads.
func (cfg Config) Args() []string {
	return []string{
		"--service=" + cfg.Service,
		"--kind=" + string(cfg.Kind),
		"--node=" + cfg.Node,
		"--address=" + cfg.Address,
		"--port=" + strconv.Itoa(cfg.Port),
		"--peers=" + strings.Join(cfg.Peers, ","),
		"--interval=" + cfg.Interval.String(),
		"--timeout=" + cfg.Timeout.String(),
	}
}
