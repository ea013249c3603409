package slo

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/experiments"
)

// t0 is the start of every test window.
var t0 = time.Date(2023, 11, 8, 6, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec float64) time.Time {
	return t0.Add(time.Duration(sec * float64(time.Second)))
}

// nodeEvent is a readiness event for node, whose region is the name up to the
// first "-" ("us1-p1" is in us1) and whose cluster is the region plus
// "-parent" when the rest starts with "p", else plus "-child".
func nodeEvent(node string, sec float64, status string) experiments.Event {
	region, rest, _ := strings.Cut(node, "-")
	cluster := region + "-child"
	if strings.HasPrefix(rest, "p") {
		cluster = region + "-parent"
	}
	return experiments.Event{
		Time:    at(sec),
		Kind:    experiments.KindNodeReady,
		Status:  status,
		Region:  region,
		Cluster: cluster,
		Node:    node,
	}
}

// up and down are node readiness events: Ready and NotReady.
func up(node string, sec float64) experiments.Event {
	return nodeEvent(node, sec, experiments.Ready)
}

func down(node string, sec float64) experiments.Event {
	return nodeEvent(node, sec, experiments.NotReady)
}

// cp is a control-plane reachability event.
func cp(cluster string, sec float64, status string) experiments.Event {
	return experiments.Event{Time: at(sec), Kind: experiments.KindControlPlane, Cluster: cluster, Status: status}
}

// tl is a timeline.
func tl(events ...experiments.Event) []experiments.Event { return events }

// shuffled returns events in a fixed pseudo-random order.
func shuffled(events []experiments.Event) []experiments.Event {
	out := append([]experiments.Event(nil), events...)
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// want is what a test expects of a Result: its verdict, and substrings of
// its Message, Observed and Required.
type want struct {
	passed   bool
	message  []string
	observed []string
	required []string
	// absent are substrings the Message must not contain.
	absent []string
}

func check(t *testing.T, got Result, w want) {
	t.Helper()
	t.Logf("passed=%v\n  observed: %s\n  required: %s\n  message:  %s", got.Passed, got.Observed, got.Required, got.Message)
	if got.Passed != w.passed {
		t.Errorf("Passed = %v, want %v; Message: %s", got.Passed, w.passed, got.Message)
	}
	if got.Message == "" || got.Observed == "" || got.Required == "" {
		t.Errorf("empty field in %+v", got)
	}
	if strings.ContainsAny(got.Message, "\n\r") {
		t.Errorf("Message is not one line: %q", got.Message)
	}
	contains := func(field, s string, subs []string) {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				t.Errorf("%s %q does not contain %q", field, s, sub)
			}
		}
	}
	contains("Message", got.Message, w.message)
	contains("Observed", got.Observed, w.observed)
	contains("Required", got.Required, w.required)
	for _, sub := range w.absent {
		if strings.Contains(got.Message, sub) {
			t.Errorf("Message %q contains %q", got.Message, sub)
		}
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "+0.000s"},
		{12345 * time.Millisecond, "+12.345s"},
		{-1500 * time.Millisecond, "-1.500s"},
		{90 * time.Second, "+90.000s"},
		{1234567 * time.Microsecond, "+1.235s"},
	}
	for _, tt := range tests {
		if got := offset(tt.d); got != tt.want {
			t.Errorf("offset(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestStamp(t *testing.T) {
	local := at(12.345).In(time.FixedZone("X", 3600))
	if got, want := stamp(local, t0), "2023-11-08T06:00:12.345Z (+12.345s)"; got != want {
		t.Errorf("stamp = %q, want %q", got, want)
	}
}

func TestList(t *testing.T) {
	var names []string
	for i := range 12 {
		names = append(names, string(rune('a'+i)))
	}
	if got, want := list(names[:3]), "a, b, c"; got != want {
		t.Errorf("list = %q, want %q", got, want)
	}
	if got, want := list(names), "a, b, c, d, e, f, g, h, i, j and 2 more"; got != want {
		t.Errorf("list = %q, want %q", got, want)
	}
}
