package slo

import (
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// launch is the auto-scaling group's two events for a replacement of old by
// node: decided at sec, running one second later.
func launch(old, node string, sec float64) []experiments.Event {
	detail := func() map[string]string {
		if old == "" {
			return map[string]string{}
		}
		return map[string]string{"replaces": old}
	}
	name := "replacement"
	if old == "" {
		name = "scale-up"
	}
	return []experiments.Event{
		{Time: at(sec), Kind: experiments.KindInstance, Name: name, Status: "NotStarted", Region: "us1", Cluster: "us1-app1", Detail: detail()},
		{Time: at(sec + 1), Kind: experiments.KindInstance, Name: name, Status: "Unregistered", Region: "us1", Cluster: "us1-app1", Node: node, Detail: detail()},
	}
}

func TestInstancesFollowsThePipeline(t *testing.T) {
	var ev []experiments.Event
	ev = append(ev, launch("us1-w0", "ip-a", 0)...)
	ev = append(ev, launch("us1-w1", "ip-b", 0.5)...)
	ev = append(ev, launch("", "ip-c", 2)...)
	ev = append(ev, down("ip-a", 3), up("ip-a", 70), down("ip-b", 4), up("us1-w9", 5))
	got := Instances(ev, "us1", true)
	if len(got) != 2 {
		t.Fatalf("Instances = %+v, want the two replacements", got)
	}
	a := got[0]
	if a.Node != "ip-a" || a.Replaces != "us1-w0" || !a.NotStarted.Equal(at(0)) || !a.Unregistered.Equal(at(1)) || !a.Unready.Equal(at(3)) || !a.Ready.Equal(at(70)) {
		t.Errorf("ip-a = %+v", a)
	}
	if b := got[1]; !b.Ready.IsZero() || !b.Unready.Equal(at(4)) || !b.NotStarted.Equal(at(0.5)) {
		t.Errorf("ip-b = %+v", b)
	}
	if got := Instances(ev, "us1", false); len(got) != 1 || got[0].Node != "ip-c" || !got[0].NotStarted.Equal(at(2)) {
		t.Errorf("scale-ups = %+v", got)
	}
	if got := Instances(ev, "eu1", true); len(got) != 0 {
		t.Errorf("eu1 has no replacement, got %+v", got)
	}
}

func TestStayedUnready(t *testing.T) {
	in := func(node string, unready, ready float64) Instance {
		i := Instance{Node: node, Unready: at(unready)}
		if ready >= 0 {
			i.Ready = at(ready)
		}
		return i
	}
	tests := []struct {
		name      string
		instances []Instance
		now       float64
		passed    bool
		decided   bool
		mention   string
	}{
		{"all stuck long enough", []Instance{in("a", 0, -1), in("b", 1, -1)}, 62, true, true, "2 of 2 nodes"},
		{"not long enough yet", []Instance{in("a", 0, -1), in("b", 1, -1)}, 30, false, false, "still undecided"},
		{"one recovered early of two at 90%", []Instance{in("a", 0, 10), in("b", 1, -1)}, 62, false, true, "a (Ready after 10s Unready)"},
		{"one early of ten at 90%", append([]Instance{in("a", 0, 10)}, repeat(in("z", 0, -1), 9)...), 61, true, true, "9 of 10"},
		{"ready after the time counts", []Instance{in("a", 0, 61)}, 62, true, true, "1 of 1 node"},
		{"nothing launched", nil, 100, false, false, "no node was replaced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, decided := StayedUnready(tt.instances, 0.9, 60*time.Second, at(tt.now))
			if r.Passed != tt.passed || decided != tt.decided || !strings.Contains(r.Message, tt.mention) {
				t.Errorf("passed %v decided %v %q; want %v %v mentioning %q", r.Passed, decided, r.Message, tt.passed, tt.decided, tt.mention)
			}
		})
	}
}

func repeat(i Instance, n int) []Instance {
	out := make([]Instance, n)
	for k := range out {
		out[k] = i
		out[k].Node = i.Node + string(rune('0'+k))
	}
	return out
}

func TestThrottledShareAndShed(t *testing.T) {
	call := func(api, status string) experiments.Event {
		return experiments.Event{Time: at(1), Kind: experiments.KindCloudCall, Name: api, Status: status, Region: "us1"}
	}
	var ev []experiments.Event
	ev = append(ev, call("CreateNetworkInterface", "ok"))
	for range 199 {
		ev = append(ev, call("CreateNetworkInterface", "throttled"))
	}
	ev = append(ev, call("IssuerLogin", "shed"), call("IssuerLogin", "ok"))
	if r := ThrottledShare(ev, "CreateNetworkInterface", "us1", time.Time{}, 0.99); !r.Passed || !strings.Contains(r.Observed, "199 of 200 calls") {
		t.Errorf("99.5%% throttled: %+v", r)
	}
	if r := ThrottledShare(ev, "CreateNetworkInterface", "us1", time.Time{}, 0.995); r.Passed {
		t.Errorf("exactly 99.5%% is not more than 99.5%%: %+v", r)
	}
	if r := ThrottledShare(ev, "RunInstances", "us1", time.Time{}, 0.5); r.Passed || !strings.Contains(r.Message, "no RunInstances call") {
		t.Errorf("no calls: %+v", r)
	}
	if r := Shed(ev, "IssuerLogin", "us1", time.Time{}, 1); !r.Passed {
		t.Errorf("one shed: %+v", r)
	}
	if r := Shed(ev, "IssuerLogin", "us1", time.Time{}, 2); r.Passed || !strings.Contains(r.Message, "1 of 2 requests shed") {
		t.Errorf("two wanted: %+v", r)
	}
}

func TestReadyWithinAndStillUnregistered(t *testing.T) {
	a := Instance{Node: "a", NotStarted: at(0), Unregistered: at(1), Unready: at(5), Ready: at(20)}
	b := Instance{Node: "b", NotStarted: at(0), Unregistered: at(1)}
	if r, decided := ReadyWithin([]Instance{a, b}, time.Minute, at(30)); r.Passed || decided {
		t.Errorf("b still has time: %+v %v", r, decided)
	}
	if r, decided := ReadyWithin([]Instance{a, b}, time.Minute, at(61)); r.Passed || !decided || !strings.Contains(r.Message, "b (Unregistered)") {
		t.Errorf("b ran out of time: %+v %v", r, decided)
	}
	b.Unready, b.Ready = at(40), at(50)
	if r, decided := ReadyWithin([]Instance{a, b}, time.Minute, at(61)); !r.Passed || !decided {
		t.Errorf("both Ready in time: %+v %v", r, decided)
	}
	if r := StillUnregistered([]Instance{a, b}, 0.5, at(10)); !r.Passed || !strings.Contains(r.Observed, "1 of 2 nodes") {
		t.Errorf("b had no Node object at 10 s: %+v", r)
	}
	if r := StillUnregistered([]Instance{a, b}, 0.5, at(45)); r.Passed {
		t.Errorf("both registered by 45 s: %+v", r)
	}
}

// A node the auto-scaling group replaced has recovered when its replacement
// first turned Ready.
func TestTimeToRecoverCreditsReplacements(t *testing.T) {
	ev := tl(up("us1-w0", 0), up("us1-w1", 0), down("us1-w0", 2), down("us1-w1", 2))
	ev = append(ev, launch("us1-w0", "ip-a", 5)...)
	ev = append(ev, launch("ip-a", "ip-b", 20)...) // the replacement was replaced too
	ev = append(ev, down("ip-a", 7), down("ip-b", 22), up("ip-b", 50))
	got := TimeToRecover(ev, []Group{{Name: "child cluster nodes", Nodes: []string{"us1-w0", "us1-w1"}}}, at(1))[0]
	if got.Recovered != 1 || !got.Last.Equal(at(50)) || len(got.Unrecovered) != 1 || got.Unrecovered[0] != "us1-w1" {
		t.Errorf("TimeToRecover = %+v; want us1-w0 back at 50 s through ip-b, us1-w1 not back", got)
	}
	if r := ReplacedBy(ev); r["us1-w0"] != "ip-b" || r["ip-a"] != "ip-b" {
		t.Errorf("ReplacedBy = %v", r)
	}
	if l := Launched(ev); !l["ip-a"] || !l["ip-b"] || l["us1-w0"] {
		t.Errorf("Launched = %v", l)
	}
}
