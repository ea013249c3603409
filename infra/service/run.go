package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// shutdownGrace bounds how long Run waits for in-flight requests once its
// context ends.
const shutdownGrace = 2 * time.Second

// Run serves the shard or replica cfg describes on cfg.Addr() until ctx
// ends; a replica also checks its peers meanwhile. It returns nil once ctx
// has ended and the server has shut down.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("service %s on %s: listen: %w", cfg.Service, cfg.Node, err)
	}
	return serve(ctx, ln, cfg, log)
}

// serve is Run on a listener that is already open; it closes ln.
func serve(ctx context.Context, ln net.Listener, cfg Config, log *slog.Logger) error {
	var handler http.Handler
	var watch func(context.Context)
	switch cfg.Kind {
	case Quorum:
		r, err := NewReplica(cfg, log)
		if err != nil {
			ln.Close()
			return err
		}
		handler, watch = r, r.Watch
	default:
		s, err := NewShard(cfg)
		if err != nil {
			ln.Close()
			return err
		}
		handler = s
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if watch != nil {
		wg.Go(func() { watch(ctx) })
	}
	wg.Go(func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer scancel()
		_ = srv.Shutdown(sctx) // past the grace, connections are closed anyway
		srv.Close()
	})
	log.Info("serving", "service", cfg.Service, "kind", cfg.Kind, "node", cfg.Node, "addr", ln.Addr().String(), "replicas", len(cfg.Peers))
	err := srv.Serve(ln)
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("service %s on %s: serve: %w", cfg.Service, cfg.Node, err)
}
