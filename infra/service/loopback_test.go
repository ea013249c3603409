package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// running is a shard or replica served from the test process.
type running struct {
	cfg  Config
	stop func() // cancels Run and waits for it to return
}

// listenLoopback opens n listeners on 127.0.0.1 with free ports.
func listenLoopback(t testing.TB, n int) []net.Listener {
	t.Helper()
	lns := make([]net.Listener, n)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		lns[i] = ln
	}
	return lns
}

func portOf(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// start serves cfg on ln until the returned stop is called or the test ends.
func start(t testing.TB, ln net.Listener, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, ln, cfg, log) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s on %s: Run returned %v", cfg.Service, cfg.Node, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s on %s: Run did not return 5s after its context ended", cfg.Service, cfg.Node)
		}
	}
	t.Cleanup(stop)
	return &running{cfg: cfg, stop: stop}
}

// result is what one query got back.
type result struct {
	status int
	answer Answer
	err    error
}

func (r result) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %+v", r.status, r.answer)
}

func query(ctx context.Context, client *http.Client, addr string) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+QueryPath, nil)
	if err != nil {
		return result{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	var a Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return result{status: resp.StatusCode, err: fmt.Errorf("decode answer: %w", err)}
	}
	return result{status: resp.StatusCode, answer: a}
}

// eventually polls query on addr until ok accepts the result or within runs
// out, and returns the last result.
func eventually(t testing.TB, client *http.Client, addr string, within time.Duration, ok func(result) bool) (result, time.Duration) {
	t.Helper()
	begin := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r := query(ctx, client, addr)
		cancel()
		if ok(r) || time.Since(begin) > within {
			return r, time.Since(begin)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serving(r result) bool { return r.err == nil && r.status == http.StatusOK }

func noQuorum(r result) bool {
	return r.err == nil && r.status == http.StatusServiceUnavailable && strings.HasPrefix(r.answer.Error, "no quorum")
}

func TestLoopback(t *testing.T) {
	const interval = 100 * time.Millisecond
	lns := listenLoopback(t, 5)
	var peers []string
	for _, ln := range lns[:3] {
		peers = append(peers, ln.Addr().String())
	}
	var replicas, shards []*running
	for i, ln := range lns[:3] {
		replicas = append(replicas, start(t, ln, Config{
			Service: "tag-index", Kind: Quorum, Node: fmt.Sprintf("r%d", i),
			Address: "127.0.0.1", Port: portOf(ln), Peers: peers,
			Interval: interval, Timeout: 3 * interval,
		}))
	}
	for i, ln := range lns[3:] {
		shards = append(shards, start(t, ln, Config{
			Service: "metrics-intake", Kind: Sharded, Node: fmt.Sprintf("s%d", i),
			Address: "127.0.0.1", Port: portOf(ln),
		}))
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	for _, s := range shards {
		r := query(context.Background(), client, s.cfg.Addr())
		want := Answer{Service: "metrics-intake", Shard: s.cfg.Node, Kind: Sharded}
		if !serving(r) || r.answer != want {
			t.Errorf("shard %s: got %s, want 200 %+v", s.cfg.Node, r, want)
		}
	}

	for _, rep := range replicas {
		r, took := eventually(t, client, rep.cfg.Addr(), 5*time.Second, func(r result) bool {
			return serving(r) && r.answer.Members == 3
		})
		want := Answer{Service: "tag-index", Replica: rep.cfg.Node, Kind: Quorum, Members: 3, Replicas: 3}
		if r.answer != want || r.status != http.StatusOK {
			t.Fatalf("replica %s: got %s after %s, want 200 %+v", rep.cfg.Node, r, took, want)
		}
	}

	// One replica down: two of three is still a majority.
	replicas[0].stop()
	for _, rep := range replicas[1:] {
		r, took := eventually(t, client, rep.cfg.Addr(), 5*time.Second, func(r result) bool {
			return !serving(r) || r.answer.Members == 2
		})
		if !serving(r) || r.answer.Members != 2 {
			t.Fatalf("replica %s with one replica down: got %s after %s, want 200 with members 2", rep.cfg.Node, r, took)
		}
	}
	for range 10 { // and it stays so
		for _, rep := range replicas[1:] {
			if r := query(context.Background(), client, rep.cfg.Addr()); !serving(r) {
				t.Fatalf("replica %s lost quorum with two of three up: %s", rep.cfg.Node, r)
			}
		}
		time.Sleep(interval / 2)
	}

	// Two down: the last one refuses.
	replicas[1].stop()
	last := replicas[2]
	r, took := eventually(t, client, last.cfg.Addr(), 5*time.Second, noQuorum)
	if !noQuorum(r) || r.answer != (Answer{Error: "no quorum: reached 1 of 3"}) {
		t.Fatalf("last replica: got %s after %s, want 503 no quorum: reached 1 of 3 within 1s", r, took)
	}
	t.Logf("last replica lost quorum %s after the second stopped", took.Round(time.Millisecond))

	// Shards share nothing: they still answer.
	for _, s := range shards {
		if r := query(context.Background(), client, s.cfg.Addr()); !serving(r) || r.answer.Shard != s.cfg.Node {
			t.Errorf("shard %s after the replicas went: got %s", s.cfg.Node, r)
		}
	}

	// A replica that comes back restores the majority.
	ln, err := net.Listen("tcp", peers[0])
	if err != nil {
		t.Skipf("cannot reopen %s to restart a replica: %v", peers[0], err)
	}
	start(t, ln, replicas[0].cfg)
	r, took = eventually(t, client, last.cfg.Addr(), 5*time.Second, serving)
	if !serving(r) || r.answer.Members != 2 {
		t.Errorf("last replica after one came back: got %s after %s, want 200 with members 2", r, took)
	}
}

func TestSingleReplicaIsItsOwnQuorum(t *testing.T) {
	ln := listenLoopback(t, 1)[0]
	rep := start(t, ln, Config{
		Service: "tag-index", Kind: Quorum, Node: "solo", Address: "127.0.0.1", Port: portOf(ln),
		Peers: []string{ln.Addr().String()}, Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond,
	})
	client := &http.Client{Timeout: time.Second}
	r, took := eventually(t, client, rep.cfg.Addr(), 5*time.Second, serving)
	if !serving(r) || r.answer.Members != 1 || r.answer.Replicas != 1 {
		t.Errorf("solo replica: got %s after %s, want 200 with members 1 of 1", r, took)
	}
}

func TestPeerOfAnotherServiceDoesNotCount(t *testing.T) {
	lns := listenLoopback(t, 3)
	peers := []string{lns[0].Addr().String(), lns[1].Addr().String(), lns[2].Addr().String()}
	cfg := func(i int, service string) Config {
		return Config{Service: service, Kind: Quorum, Node: fmt.Sprintf("r%d", i), Address: "127.0.0.1",
			Port: portOf(lns[i]), Peers: peers, Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond}
	}
	a := start(t, lns[0], cfg(0, "tag-index"))
	start(t, lns[1], cfg(1, "other-index"))
	start(t, lns[2], cfg(2, "other-index"))
	client := &http.Client{Timeout: time.Second}
	// Give the checks several rounds, then expect a refusal: only itself counts.
	time.Sleep(300 * time.Millisecond)
	if r := query(context.Background(), client, a.cfg.Addr()); !noQuorum(r) || r.answer.Error != "no quorum: reached 1 of 3" {
		t.Errorf("replica among another service's replicas: got %s, want 503 no quorum: reached 1 of 3", r)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	ln := listenLoopback(t, 1)[0]
	s := start(t, ln, validShardOn(ln))
	resp, err := http.Post("http://"+s.cfg.Addr()+QueryPath, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: status %d, want %d", QueryPath, resp.StatusCode, http.StatusMethodNotAllowed)
	}
}

func validShardOn(ln net.Listener) Config {
	return Config{Service: "metrics-intake", Kind: Sharded, Node: "s0", Address: "127.0.0.1", Port: portOf(ln)}
}
