package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrNoQuorum is what a replica answers, wrapped with the counts, while it
// cannot reach a majority of its replicas: "no quorum: reached 1 of 3".
var ErrNoQuorum = errors.New("no quorum")

// Replica is one replica of a quorum service. It answers queries only while
// it reaches a majority of the service's R replicas, itself included; it
// learns that by checking every replica, itself too, over TCP from the node's
// own address, so a node whose routing is gone (which then cannot reach even
// itself) counts nobody.
type Replica struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	mux    *http.ServeMux
	peer   []byte // the answer to a peer check

	mu     sync.Mutex
	checks []check // by index in cfg.Peers
	quorum bool    // as last logged
}

// check is the last result of checking one replica.
type check struct {
	ok  bool
	at  time.Time // when the check ended
	err error
}

var _ http.Handler = (*Replica)(nil)

// NewReplica returns the replica that cfg, of kind Quorum, describes. It
// answers 503 until Watch has found a majority.
func NewReplica(cfg Config, log *slog.Logger) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kind != Quorum {
		return nil, fmt.Errorf("%w: service %s is %s, not %s", ErrInvalidConfig, cfg.Service, cfg.Kind, Quorum)
	}
	dialer := &net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(cfg.Address)},
		Timeout:   cfg.Timeout,
	}
	r := &Replica{
		cfg: cfg,
		log: log,
		// A fresh connection per check: each one proves the route, the
		// policy rules and the listener right now.
		client: &http.Client{
			Timeout: cfg.Timeout,
			Transport: &http.Transport{
				DialContext:       dialer.DialContext,
				DisableKeepAlives: true,
			},
		},
		mux:    http.NewServeMux(),
		peer:   encode(Answer{Service: cfg.Service, Replica: cfg.Node, Kind: Quorum}),
		checks: make([]check, len(cfg.Peers)),
	}
	r.mux.HandleFunc("GET "+QueryPath, r.query)
	r.mux.HandleFunc("GET "+PeerPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, r.peer)
	})
	return r, nil
}

// ServeHTTP answers GET /query (200 with quorum, 503 without) and GET /peer
// (200 with the replica's id).
func (r *Replica) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

func (r *Replica) query(w http.ResponseWriter, _ *http.Request) {
	reached, total := r.Reached()
	if err := quorumError(reached, total); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, encode(Answer{Error: err.Error()}))
		return
	}
	writeJSON(w, http.StatusOK, encode(Answer{
		Service: r.cfg.Service, Replica: r.cfg.Node, Kind: Quorum, Members: reached, Replicas: total,
	}))
}

// quorumError is nil when reached is a majority of total, and otherwise wraps
// ErrNoQuorum.
func quorumError(reached, total int) error {
	if reached > total/2 {
		return nil
	}
	return fmt.Errorf("%w: reached %d of %d", ErrNoQuorum, reached, total)
}

// Reached returns how many of the service's replicas, this one included, the
// replica reaches, and the replica count R. A replica is reached if its last
// check succeeded and ended within two check intervals.
func (r *Replica) Reached() (reached, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reachedLocked(time.Now()), len(r.checks)
}

func (r *Replica) reachedLocked(now time.Time) int {
	n := 0
	for _, c := range r.checks {
		if c.ok && now.Sub(c.at) <= 2*r.cfg.Interval {
			n++
		}
	}
	return n
}

// Watch checks every replica, this one included, once per interval until ctx
// ends. Each replica is checked on its own goroutine, so a replica that
// times out delays no other.
func (r *Replica) Watch(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range r.cfg.Peers {
		wg.Go(func() { r.watchPeer(ctx, i) })
	}
	wg.Wait()
}

func (r *Replica) watchPeer(ctx context.Context, i int) {
	ticker := time.NewTicker(r.cfg.Interval)
	defer ticker.Stop()
	for {
		err := r.checkPeer(ctx, r.cfg.Peers[i])
		if ctx.Err() != nil {
			return
		}
		r.record(i, err)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// checkPeer sends GET /peer to addr from the node's address and expects a
// replica of the same service to answer.
func (r *Replica) checkPeer(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+PeerPath, nil)
	if err != nil {
		return fmt.Errorf("check %s: %w", addr, err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("check %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("check %s: status %s", addr, resp.Status)
	}
	var a Answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&a); err != nil {
		return fmt.Errorf("check %s: decode answer: %w", addr, err)
	}
	if a.Service != r.cfg.Service || a.Kind != Quorum {
		return fmt.Errorf("check %s: answered by %s replica of %q, not of %q", addr, a.Kind, a.Service, r.cfg.Service)
	}
	return nil
}

// record keeps the result of one check and logs what changed.
func (r *Replica) record(i int, err error) {
	now := time.Now()
	r.mu.Lock()
	prev := r.checks[i]
	r.checks[i] = check{ok: err == nil, at: now, err: err}
	reached, total := r.reachedLocked(now), len(r.checks)
	quorum := quorumError(reached, total) == nil
	changed := quorum != r.quorum
	r.quorum = quorum
	r.mu.Unlock()

	peer := r.cfg.Peers[i]
	switch {
	case err == nil && !prev.ok:
		r.log.Debug("replica reachable", "service", r.cfg.Service, "node", r.cfg.Node, "peer", peer)
	case err != nil && (prev.ok || prev.at.IsZero()):
		r.log.Debug("replica unreachable", "service", r.cfg.Service, "node", r.cfg.Node, "peer", peer, "err", err)
	}
	if changed {
		msg := "quorum lost"
		if quorum {
			msg = "quorum reached"
		}
		r.log.Info(msg, "service", r.cfg.Service, "node", r.cfg.Node, "reached", reached, "replicas", total)
	}
}
