package service

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validQuorum() Config {
	return Config{
		Service:  "tag-index",
		Kind:     Quorum,
		Node:     "us1-app1-w0",
		Address:  "10.1.0.14",
		Port:     7070,
		Peers:    []string{"10.1.0.14:7070", "10.1.0.15:7070", "10.1.0.16:7070"},
		Interval: 250 * time.Millisecond,
		Timeout:  300 * time.Millisecond,
	}
}

func validShard() Config {
	return Config{Service: "metrics-intake", Kind: Sharded, Node: "us1-app1-w0", Address: "10.1.0.14", Port: 7071}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		base   func() Config
		want   string // "" for valid
	}{
		{"quorum of three", func(*Config) {}, validQuorum, ""},
		{"sharded", func(*Config) {}, validShard, ""},
		{"quorum of one", func(c *Config) { c.Peers = []string{"10.1.0.14:7070"} }, validQuorum, ""},
		{"ipv6", func(c *Config) { c.Address = "fd00::14"; c.Peers = []string{"[fd00::14]:7070"} }, validQuorum, ""},

		{"empty name", func(c *Config) { c.Service = "" }, validQuorum, "empty service name"},
		{"bad name", func(c *Config) { c.Service = "Tag Index" }, validQuorum, `service name "Tag Index"`},
		{"unknown kind", func(c *Config) { c.Kind = "mesh" }, validShard, `kind "mesh" is neither`},
		{"empty node", func(c *Config) { c.Node = "" }, validShard, "empty node name"},
		{"address not an IP", func(c *Config) { c.Address = "node-1" }, validShard, `address "node-1" is not an IP address`},
		{"unspecified address", func(c *Config) { c.Address = "0.0.0.0" }, validShard, "unspecified"},
		{"port 0", func(c *Config) { c.Port = 0 }, validShard, "port 0 is outside 1-65535"},
		{"port too high", func(c *Config) { c.Port = 70000 }, validShard, "port 70000 is outside 1-65535"},
		{"no replicas", func(c *Config) { c.Peers = nil }, validQuorum, "replica count 0"},
		{"even replicas", func(c *Config) { c.Peers = c.Peers[:2] }, validQuorum,
			"replica count 2 is even: a quorum service needs an odd number of replicas"},
		{"zero interval", func(c *Config) { c.Interval = 0 }, validQuorum, "check interval 0s must be positive"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, validQuorum, "check timeout -1s must be positive"},
		{"peer without port", func(c *Config) { c.Peers[1] = "10.1.0.15" }, validQuorum, `peer "10.1.0.15" is not ip:port`},
		{"peer not an IP", func(c *Config) { c.Peers[1] = "w1:7070" }, validQuorum, `"w1" is not a node IP address`},
		{"peer port", func(c *Config) { c.Peers[1] = "10.1.0.15:0" }, validQuorum, `port "0" is outside 1-65535`},
		{"duplicate peer", func(c *Config) { c.Peers[2] = "10.1.0.15:7070" }, validQuorum, "listed twice"},
		{"self missing", func(c *Config) { c.Peers[0] = "10.1.0.17:7070" }, validQuorum, "do not include this replica's own address 10.1.0.14:7070"},
		{"sharded with peers", func(c *Config) { c.Peers = []string{"10.1.0.14:7071"} }, validShard, "a sharded service has no peers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.base()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Validate() = %v, does not wrap ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestArgsRoundTrip(t *testing.T) {
	single := validQuorum()
	single.Peers = []string{"10.1.0.14:7070"}
	for name, cfg := range map[string]Config{
		"quorum":        validQuorum(),
		"quorum of one": single,
		"sharded":       validShard(),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseArgs(cfg.Args())
			if err != nil {
				t.Fatalf("ParseArgs(%q): %v", cfg.Args(), err)
			}
			if !reflect.DeepEqual(got, cfg) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, cfg)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		cfg, err := ParseArgs([]string{"--service=tag-index", "--kind=quorum", "--node=n1",
			"--address=10.1.0.14", "--port=7070", "--peers=10.1.0.14:7070"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Interval != DefaultInterval || cfg.Timeout != DefaultTimeout {
			t.Errorf("interval, timeout = %s, %s, want %s, %s", cfg.Interval, cfg.Timeout, DefaultInterval, DefaultTimeout)
		}
	})
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--replicas=3"}, "flag provided but not defined"},
		{"positional", append(validShard().Args(), "extra"), `unexpected arguments ["extra"]`},
		{"bad duration", append(validQuorum().Args(), "--interval=soon"), "invalid value"},
		{"even replicas", append(validQuorum().Args(), "--peers=10.1.0.14:7070,10.1.0.15:7070"), "replica count 2 is even"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseArgs(%q) = %v, want an invalid-config error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestQuorumError(t *testing.T) {
	tests := []struct {
		reached, total int
		want           string
	}{
		{1, 1, ""}, {0, 1, "no quorum: reached 0 of 1"},
		{3, 3, ""}, {2, 3, ""}, {1, 3, "no quorum: reached 1 of 3"},
		{3, 5, ""}, {2, 5, "no quorum: reached 2 of 5"},
	}
	for _, tt := range tests {
		err := quorumError(tt.reached, tt.total)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("quorumError(%d, %d) = %v, want nil", tt.reached, tt.total, err)
		case tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, ErrNoQuorum)):
			t.Errorf("quorumError(%d, %d) = %v, want %q wrapping ErrNoQuorum", tt.reached, tt.total, err, tt.want)
		}
	}
}
