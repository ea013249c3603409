package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
)

// ErrNoDocker is returned when no Docker engine answers.
var ErrNoDocker = errors.New("no Docker engine: the kind provider needs docker on PATH and a running engine")

// docker runs the docker CLI. Every method builds its argv with a pure
// function (tested) and runs it; the child dies with this process.
type docker struct {
	path string
}

func newDocker() (*docker, error) {
	p, err := exec.LookPath("docker")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return &docker{path: p}, nil
}

// DockerError is a failed docker command, with what it printed.
type DockerError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *DockerError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("docker %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *DockerError) Unwrap() error { return e.Err }

func (d *docker) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), &DockerError{Args: args, Stderr: errb.String(), Err: err}
	}
	return out.Bytes(), nil
}

// Ping checks that a Docker engine answers.
func (d *docker) ping(ctx context.Context) error {
	if _, err := d.run(ctx, nil, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return nil
}

// gateway is the host's address on a Docker network.
func (d *docker) gateway(ctx context.Context, network string) (string, error) {
	out, err := d.run(ctx, nil, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", network)
	if err != nil {
		return "", err
	}
	for _, gw := range strings.Fields(string(out)) {
		if ip := net.ParseIP(gw); ip != nil && ip.To4() != nil {
			return gw, nil
		}
	}
	return "", fmt.Errorf("docker network %s has no IPv4 gateway", network)
}

// container is what the provider needs to know about a node container.
type container struct {
	Name    string
	ID      string
	Running bool
	PID     int
	// StartedAt is when the container last started (RFC 3339).
	StartedAt string
	// IP, PrefixLen and Gateway are on the region's network.
	IP        string
	PrefixLen int
	Gateway   string
}

// inspectArgs inspects containers as JSON.
func inspectArgs(names ...string) []string {
	return append([]string{"inspect", "--type", "container"}, names...)
}

type inspectJSON struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Running   bool   `json:"Running"`
		Pid       int    `json:"Pid"`
		StartedAt string `json:"StartedAt"`
	} `json:"State"`
	NetworkSettings struct {
		Networks map[string]struct {
			IPAddress   string `json:"IPAddress"`
			IPPrefixLen int    `json:"IPPrefixLen"`
			Gateway     string `json:"Gateway"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
}

// parseInspect reads docker inspect output; network picks the network whose
// address is reported.
func parseInspect(raw []byte, network string) ([]container, error) {
	var list []inspectJSON
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("parse docker inspect: %w", err)
	}
	out := make([]container, 0, len(list))
	for _, c := range list {
		ct := container{
			Name:      strings.TrimPrefix(c.Name, "/"),
			ID:        c.ID,
			Running:   c.State.Running,
			PID:       c.State.Pid,
			StartedAt: c.State.StartedAt,
		}
		if n, ok := c.NetworkSettings.Networks[network]; ok {
			ct.IP, ct.PrefixLen, ct.Gateway = n.IPAddress, n.IPPrefixLen, n.Gateway
		}
		out = append(out, ct)
	}
	return out, nil
}

// inspect returns the containers named, in order; a missing container is an
// error naming it.
func (d *docker) inspect(ctx context.Context, network string, names ...string) ([]container, error) {
	raw, err := d.run(ctx, nil, inspectArgs(names...)...)
	if err != nil {
		return nil, err
	}
	return parseInspect(raw, network)
}

// restartArgs reboots a node container: systemd gets its stop signal and
// grace seconds, then the container starts again with the same volumes.
func restartArgs(name string, graceSeconds int) []string {
	return []string{"container", "restart", "--time", fmt.Sprint(graceSeconds), name}
}

// removeArgs terminates a node container, with its anonymous /var volume.
func removeArgs(name string) []string {
	return []string{"container", "rm", "--force", "--volumes", name}
}

// networkCreateArgs makes a region's IPv4-only bridge network, labelled
// with the run so teardown can tell it is ours.
func networkCreateArgs(name, runID string) []string {
	return []string{"network", "create", "--driver", "bridge",
		"--label", LabelRun + "=" + runID,
		"--opt", "com.docker.network.bridge.enable_ip_masquerade=true",
		name}
}

// networkListArgs lists the networks of a run by label.
func networkListArgs(runID string) []string {
	return []string{"network", "ls", "--filter", "label=" + LabelRun + "=" + runID, "--format", "{{.Name}}"}
}

// OwnedNetworks returns the networks, among those labelled with the run,
// that also carry the run's name prefix: both must hold before a network is
// removed.
func OwnedNetworks(labelled []string, runID string) []string {
	if !validRunID.MatchString(runID) {
		return nil
	}
	var out []string
	for _, n := range labelled {
		if strings.HasPrefix(n, RunPrefix(runID)) {
			out = append(out, n)
		}
	}
	return out
}

// execArgs runs a command in a node container, reading stdin if given.
func execArgs(name string, stdin bool, argv ...string) []string {
	args := []string{"exec"}
	if stdin {
		args = append(args, "-i")
	}
	return append(append(args, name), argv...)
}

func (d *docker) exec(ctx context.Context, name string, stdin io.Reader, argv ...string) ([]byte, error) {
	return d.run(ctx, stdin, execArgs(name, stdin != nil, argv...)...)
}

// writeFile writes content to path inside a node container.
func (d *docker) writeFile(ctx context.Context, name, path, content string) error {
	script := fmt.Sprintf("mkdir -p \"$(dirname %q)\" && cat > %q.tmp && mv -f %q.tmp %q", path, path, path, path)
	_, err := d.exec(ctx, name, strings.NewReader(content), "sh", "-c", script)
	return err
}
