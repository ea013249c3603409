package kind

import (
	"slices"
	"strings"
	"testing"
)

const workerKubeadmConf = `apiVersion: kubeadm.k8s.io/v1beta4
discovery:
  bootstrapToken:
    apiServerEndpoint: as-r1-us1-app1-control-plane:6443
    token: abcdef.0123456789abcdef
    unsafeSkipCAVerification: true
kind: JoinConfiguration
nodeRegistration:
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: node-ip
    value: 172.29.0.6
  - name: provider-id
    value: kind://docker/as-r1-us1-app1/as-r1-us1-app1-worker
  - name: node-labels
    value: aftershock.io/cluster=us1-app1
  - name: another-address
    value: 172.29.0.60
  name: us1-app1-w0
skipPhases:
- preflight
`

func TestLaunchedKubeadmConfig(t *testing.T) {
	got, err := launchedKubeadmConfig(workerKubeadmConf, "us1-app1-w0", "172.29.0.6", "ip-172-29-0-9", "172.29.0.9", "aws:///us1/i-0abc")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"value: 172.29.0.9\n", "value: aws:///us1/i-0abc\n", "  name: ip-172-29-0-9\n",
		"apiServerEndpoint: as-r1-us1-app1-control-plane:6443", "value: aftershock.io/cluster=us1-app1", "value: 172.29.0.60\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	for _, gone := range []string{"172.29.0.6\n", "kind://docker", "us1-app1-w0"} {
		if strings.Contains(got, gone) {
			t.Errorf("config still has %q:\n%s", gone, got)
		}
	}
	if _, err := launchedKubeadmConfig("kind: InitConfiguration\n", "w0", "1.2.3.4", "n", "1.2.3.5", "aws:///us1/i-1"); err == nil {
		t.Error("a configuration without a JoinConfiguration was accepted")
	}
}

func TestLaunchNames(t *testing.T) {
	if got := ec2Name("172.18.0.9"); got != "ip-172-18-0-9" {
		t.Errorf("ec2Name = %q", got)
	}
	if got := launchedName("as-r1-us1-app1", 4); got != "as-r1-us1-app1-i4" {
		t.Errorf("launchedName = %q", got)
	}
	args := launchRunArgs("as-r1-us1-app1-i4", "as-r1-us1-app1", "as-r1-us1", "img:1")
	for _, want := range [][]string{
		{"--name", "as-r1-us1-app1-i4"},
		{"--label", kindClusterLabel + "=as-r1-us1-app1"}, // kind's Delete removes it with its cluster
		{"--net", "as-r1-us1"},
		{"--privileged"},
	} {
		if !slices.ContainsFunc(windows(args, len(want)), func(w []string) bool { return slices.Equal(w, want) }) {
			t.Errorf("docker run args %q lack %q", args, want)
		}
	}
	if args[0] != "run" || args[len(args)-1] != "img:1" {
		t.Errorf("args %q: want run … image", args)
	}
}

// windows are the runs of n consecutive elements of s.
func windows(s []string, n int) [][]string {
	var out [][]string
	for i := 0; i+n <= len(s); i++ {
		out = append(out, s[i:i+n])
	}
	return out
}
