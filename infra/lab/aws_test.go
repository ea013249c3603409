package lab

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-sre/aftershock/infra"
	"github.com/aftershock-sre/aftershock/infra/cloud"
	"github.com/aftershock-sre/aftershock/infra/lab/agent"
	"github.com/aftershock-sre/aftershock/infra/topology"
)

// TestAWSReplacement cuts one aws worker off with a real rule flush and
// follows its replacement through the whole pipeline in the real API
// server: status checks fail, the auto-scaling group terminates it, a new
// node with a new name and address logs in to the issuer, registers
// NotReady with NetworkUnavailable, gets its interfaces from the network
// operator and turns Ready. Every step is a real HTTP call in the fabric.
func TestAWSReplacement(t *testing.T) {
	bins := requireLab(t)
	topo := topology.Uniform("aws-tiny", []topology.RegionShape{{Name: "us1", Cloud: topology.AWS}},
		topology.ClusterShape{ParentControlPlanes: 1, ParentWorkers: 1, Children: 1, ChildWorkers: 2})
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, err := Up(ctx, topo, testOptions(t, bins))
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	defer func() { _ = l.Down(context.Background()) }()

	var (
		mu    sync.Mutex
		steps []cloud.Replacement
		calls = map[string]int{}
	)
	rc, err := l.StartCloud(ctx, infra.RegionCloudSpec{
		Region:        "us1",
		Limits:        cloud.DefaultLimits(),
		FailedChecks:  2,
		CheckInterval: 500 * time.Millisecond,
		NetworkRetry:  cloud.ExponentialRetry(100*time.Millisecond, time.Second),
		OnCall: func(c cloud.Call) {
			mu.Lock()
			calls[c.API+"/"+c.Outcome]++
			mu.Unlock()
		},
		OnReplacement: func(r cloud.Replacement) {
			mu.Lock()
			steps = append(steps, r)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatalf("start cloud: %v", err)
	}
	if _, err := l.StartCloud(ctx, infra.RegionCloudSpec{Region: "us1"}); err == nil {
		t.Error("a second cloud in us1 started")
	}

	victim := mustNode(t, l, "us1-app1-w0")
	oldAddr := victim.Address
	flushForeignRules(t, victim)

	var newNode string
	deadline := time.Now().Add(90 * time.Second)
	for newNode == "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		for _, r := range steps {
			if r.Err != nil {
				t.Fatalf("replacement failed: %v", r.Err)
			}
			if r.State == cloud.StateUnregistered && r.Old == victim.Name {
				newNode = r.New
			}
		}
		mu.Unlock()
	}
	if newNode == "" {
		t.Fatalf("no replacement of %s within 90 s; steps %+v", victim.Name, steps)
	}
	replacement := mustNode(t, l, newNode)
	if !strings.HasPrefix(newNode, "ip-10-1-0-") || replacement.Address == oldAddr {
		t.Errorf("replacement %s at %s: want a new ip-… name and a new address (old %s)", newNode, replacement.Address, oldAddr)
	}
	for _, n := range l.Nodes() {
		if n.Name == victim.Name {
			t.Errorf("terminated node %s is still listed", victim.Name)
		}
	}

	client, err := l.client("us1-app1")
	if err != nil {
		t.Fatal(err)
	}
	sawUnready, ready := false, false
	for !ready && time.Now().Before(deadline.Add(60*time.Second)) {
		obj, err := client.CoreV1().Nodes().Get(ctx, newNode, metav1.GetOptions{})
		if err == nil {
			if readyOf(obj.Status.Conditions) == "False" && conditionOf(obj.Status.Conditions, "NetworkUnavailable") == "True" {
				sawUnready = true
			}
			if readyOf(obj.Status.Conditions) == "True" {
				if !strings.HasPrefix(obj.Spec.ProviderID, "aws:///us1/i-") {
					t.Errorf("providerID %q", obj.Spec.ProviderID)
				}
				if n := len(strings.Split(obj.Annotations[agent.InterfacesAnnotation], ",")); n != cloud.DefaultInterfacesPerNode {
					t.Errorf("%d interfaces attached, want %d", n, cloud.DefaultInterfacesPerNode)
				}
				if conditionOf(obj.Status.Conditions, "NetworkUnavailable") != "False" {
					t.Errorf("Ready but NetworkUnavailable is not False")
				}
				ready = true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ready {
		t.Fatalf("replacement %s never turned Ready", newNode)
	}
	if !sawUnready {
		t.Error("the API server never showed the replacement Unready (Ready=False, NetworkUnavailable=True) before Ready")
	}
	if _, err := client.CoreV1().Nodes().Get(ctx, victim.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("the terminated node's Node object %s is still there", victim.Name)
	}
	stats := rc.Stats()
	mu.Lock()
	defer mu.Unlock()
	for _, api := range []string{cloud.APITerminateInstances, cloud.APIRunInstances, cloud.APIIssuerLogin, cloud.APIDescribeInstances, cloud.APICreateNetworkInterface} {
		if stats[api].OK < 1 || calls[api+"/ok"] < 1 {
			t.Errorf("%s: %d ok in stats, %d observed; want at least one", api, stats[api].OK, calls[api+"/ok"])
		}
	}
}
