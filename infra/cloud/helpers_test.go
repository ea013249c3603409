package cloud_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// startAPI serves a cloud API on a loopback port and returns it and its URL.
func startAPI(t testing.TB, limits cloud.Limits, observe func(cloud.Call)) (*cloud.API, string) {
	t.Helper()
	api, err := cloud.NewAPI(limits, observe)
	if err != nil {
		t.Fatalf("NewAPI: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- api.Serve(l) }()
	t.Cleanup(func() {
		// A client whose request was cancelled while it dialled parks the
		// fresh connection in its idle pool; the server sees a connection
		// that never sent a request, which Shutdown waits 5 s for.
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := api.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return api, "http://" + l.Addr().String()
}

// startIssuer serves an issuer backed by the cloud API at apiURL.
func startIssuer(t testing.TB, apiURL string, limits cloud.Limits, observe func(cloud.Call)) (*cloud.Issuer, string) {
	t.Helper()
	is, err := cloud.NewIssuer(apiURL, nil, limits, observe)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	srv := httptest.NewServer(is.Handler())
	t.Cleanup(srv.Close)
	return is, srv.URL
}

// recorder is an observer that keeps every call.
type recorder struct {
	mu    sync.Mutex
	calls []cloud.Call
}

func (r *recorder) observe(c cloud.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recorder) all() []cloud.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cloud.Call(nil), r.calls...)
}

// stats counts the recorded calls as Stats does.
func (r *recorder) stats() map[string]cloud.APIStats {
	out := map[string]cloud.APIStats{}
	for _, c := range r.all() {
		s := out[c.API]
		s.Calls++
		switch c.Outcome {
		case cloud.OutcomeOK:
			s.OK++
		case cloud.OutcomeThrottled:
			s.Throttled++
		case cloud.OutcomeShed:
			s.Shed++
		default:
			s.Errors++
		}
		out[c.API] = s
	}
	return out
}

// gate holds DescribeInstances calls at an upstream until released, so
// that issuer logins stay in flight.
type gate struct {
	arrived chan string
	release chan struct{}
}

func newGate() *gate {
	return &gate{arrived: make(chan string, 100), release: make(chan struct{})}
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+cloud.APIDescribeInstances {
			g.arrived <- r.Header.Get(cloud.CallerHeader)
			<-g.release
		}
		h.ServeHTTP(w, r)
	})
}

// waitArrivals waits for n held calls.
func (g *gate) waitArrivals(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d calls reached the upstream", i, n)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// httptestServer serves h on a loopback port and returns its URL.
func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
