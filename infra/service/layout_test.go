package service

import (
	"slices"
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	hosts := []Host{{"n0", "10.0.0.1"}, {"n1", "10.0.0.2"}, {"n2", "10.0.0.3"}, {"n3", "10.0.0.4"}}
	sharded, err := Layout("metrics-intake", Sharded, 0, 8080, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sharded) != 4 || sharded[3].Node != "n3" || sharded[3].Addr() != "10.0.0.4:8080" || len(sharded[0].Peers) != 0 {
		t.Errorf("sharded layout %+v: want a shard per host, no peers", sharded)
	}
	quorum, err := Layout("tag-index", Quorum, 3, 8081, hosts)
	if err != nil {
		t.Fatal(err)
	}
	wantPeers := []string{"10.0.0.1:8081", "10.0.0.2:8081", "10.0.0.3:8081"}
	if len(quorum) != 3 || !slices.Equal(quorum[2].Peers, wantPeers) {
		t.Errorf("quorum layout %+v: want replicas on the first 3 hosts, each with peers %v", quorum, wantPeers)
	}
	if _, err := Layout("tag-index", Quorum, 5, 8081, hosts); err == nil || !strings.Contains(err.Error(), "5 replicas need 5 nodes, the cluster has 4") {
		t.Errorf("5 replicas on 4 nodes: %v", err)
	}
	if _, err := Layout("Bad Name", Sharded, 0, 8080, hosts); err == nil {
		t.Error("an invalid service name was laid out")
	}
}
