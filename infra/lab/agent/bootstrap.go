package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

// serveHealthz answers GET /healthz on the node's address, for the cloud's
// status check. It returns a function that stops the server.
func serveHealthz(cfg Config) (func(), error) {
	l, err := net.Listen("tcp", net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.HealthzPort)))
	if err != nil {
		return nil, fmt.Errorf("serve healthz: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() { _ = srv.Close() }, nil
}

// loginRetry is how a bootstrapping node retries its login, like Vault
// agent's auto-auth: exponential backoff with jitter.
var loginRetry = cloud.ExponentialRetry(500*time.Millisecond, 5*time.Second)

// login gets the node's certificate from the issuer, retrying every failure
// (shed, throttled, unreachable) until it succeeds or ctx ends.
func login(ctx context.Context, cfg Config, log *slog.Logger) error {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(cfg.Address)}, Timeout: 2 * time.Second}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 1}}
	attempts, err := cloud.NewClient(cfg.IssuerURL, cfg.NodeName, hc).LoginUntilIssued(ctx, loginRetry, cfg.InstanceID)
	if err != nil {
		return err
	}
	log.Info("certificate issued", "node", cfg.NodeName, "instance", cfg.InstanceID, "attempts", attempts)
	return nil
}
