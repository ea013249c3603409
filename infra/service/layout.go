package service

import (
	"fmt"
	"net"
	"strconv"
)

// Host is a node a service may run on, with the address it serves on.
type Host struct {
	Node, Address string
}

// Layout places a service on one cluster's hosts, all on port: a shard on
// every host, or a quorum of replicas on the first replicas hosts, each
// knowing the others as peers. Every Config is validated.
func Layout(name string, kind Kind, replicas, port int, hosts []Host) ([]Config, error) {
	if kind == Quorum {
		if len(hosts) < replicas {
			return nil, fmt.Errorf("%d replicas need %d nodes, the cluster has %d", replicas, replicas, len(hosts))
		}
		hosts = hosts[:replicas]
	}
	var peers []string
	if kind == Quorum {
		for _, h := range hosts {
			peers = append(peers, net.JoinHostPort(h.Address, strconv.Itoa(port)))
		}
	}
	out := make([]Config, 0, len(hosts))
	for _, h := range hosts {
		cfg := Config{Service: name, Kind: kind, Node: h.Node, Address: h.Address, Port: port, Peers: peers,
			Interval: DefaultInterval, Timeout: DefaultTimeout}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		out = append(out, cfg)
	}
	return out, nil
}
