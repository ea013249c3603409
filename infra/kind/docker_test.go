package kind

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestDockerArgv(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"reboot keeps the container", restartArgs("as-r1-eu1-parent-worker", 5), "container restart --time 5 as-r1-eu1-parent-worker"},
		{"terminate removes the /var volume too", removeArgs("as-r1-eu1-parent-worker"), "container rm --force --volumes as-r1-eu1-parent-worker"},
		{"region network is labelled with the run", networkCreateArgs("as-r1-eu1", "r1"),
			"network create --driver bridge --label aftershock.io/run=r1 --opt com.docker.network.bridge.enable_ip_masquerade=true as-r1-eu1"},
		{"networks of a run by label", networkListArgs("r1"), "network ls --filter label=aftershock.io/run=r1 --format {{.Name}}"},
		{"inspect", inspectArgs("a", "b"), "inspect --type container a b"},
		{"exec without stdin", execArgs("n", false, "sh", "-c", "true"), "exec n sh -c true"},
		{"exec with stdin", execArgs("n", true, "cat"), "exec -i n cat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.got, " "); got != tt.want {
				t.Errorf("argv\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseInspect(t *testing.T) {
	raw := []byte(`[{"Id":"abc","Name":"/as-r1-eu1-parent-worker","State":{"Running":true,"Pid":4242,"StartedAt":"2026-11-21T02:23:48.615265567Z"},
	  "NetworkSettings":{"Networks":{"as-r1-eu1":{"IPAddress":"172.19.0.3","IPPrefixLen":16,"Gateway":"172.19.0.1"},
	                                  "bridge":{"IPAddress":"172.17.0.9","IPPrefixLen":16,"Gateway":"172.17.0.1"}}}},
	 {"Id":"def","Name":"/stopped","State":{"Running":false,"Pid":0},"NetworkSettings":{"Networks":{}}}]`)
	got, err := parseInspect(raw, "as-r1-eu1")
	if err != nil {
		t.Fatal(err)
	}
	want := []container{
		{Name: "as-r1-eu1-parent-worker", ID: "abc", Running: true, PID: 4242, StartedAt: "2026-11-21T02:23:48.615265567Z", IP: "172.19.0.3", PrefixLen: 16, Gateway: "172.19.0.1"},
		{Name: "stopped", ID: "def"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := parseInspect([]byte("not json"), "x"); err == nil {
		t.Error("no error for bad JSON")
	}
}

func TestDockerErrorNamesTheCommand(t *testing.T) {
	err := &DockerError{Args: []string{"network", "rm", "x"}, Stderr: "Error: No such network: x\n", Err: &exec.ExitError{}}
	if got := err.Error(); got != "docker network rm x: Error: No such network: x" {
		t.Errorf("message %q", got)
	}
	var de *DockerError
	if !errors.As(error(err), &de) {
		t.Error("not a *DockerError")
	}
}
