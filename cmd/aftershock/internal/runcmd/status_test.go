package runcmd

import (
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

func TestStatusLine(t *testing.T) {
	t0 := time.Date(2023, 3, 8, 6, 0, 0, 0, time.UTC)
	ev := func(s int, kind experiments.Kind, name, status, node string) experiments.Event {
		return experiments.Event{Time: t0.Add(time.Duration(s) * time.Second), Kind: kind, Name: name, Status: status, Node: node}
	}
	events := []experiments.Event{
		ev(0, experiments.KindStep, "scenario: s", "started", ""),
		ev(1, experiments.KindStep, "all nodes are Ready", "started", ""),
		ev(2, experiments.KindNodeReady, "", experiments.Ready, "a"),
		ev(2, experiments.KindNodeReady, "", experiments.Ready, "b"),
		ev(2, experiments.KindNodeReady, "", experiments.Ready, "c"),
		ev(3, experiments.KindStep, "systemd-networkd restarts on 60% of nodes", "started", ""),
		ev(4, experiments.KindFault, "networkd-restart", "injected", "a"),
		ev(4, experiments.KindFault, "networkd-restart", "injected", "b"),
		ev(5, experiments.KindFault, "networkd-restart", "reverted", "b"),
		ev(9, experiments.KindNodeReady, "", experiments.NotReady, "a"),
	}
	key, line := statusLine("s", events, t0.Add(10*time.Second))
	want := "[s] step 2: systemd-networkd restarts on 60% of nodes | injected 1 | NotReady 1 of 3 nodes"
	if line != want || key != "s/2" {
		t.Errorf("statusLine = %q, %q; want %q, %q", key, line, "s/2", want)
	}
}
