package service

import (
	"fmt"
	"net/http"
)

// Shard is one shard of a statically sharded service. It shares nothing with
// the other shards and answers for itself, so the service degrades linearly
// with the nodes it loses.
type Shard struct {
	cfg    Config
	answer []byte // the same for every query
	mux    *http.ServeMux
}

var _ http.Handler = (*Shard)(nil)

// NewShard returns the shard that cfg, of kind Sharded, describes.
func NewShard(cfg Config) (*Shard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Kind != Sharded {
		return nil, fmt.Errorf("%w: service %s is %s, not %s", ErrInvalidConfig, cfg.Service, cfg.Kind, Sharded)
	}
	s := &Shard{
		cfg:    cfg,
		answer: encode(Answer{Service: cfg.Service, Shard: cfg.Node, Kind: Sharded}),
		mux:    http.NewServeMux(),
	}
	s.mux.HandleFunc("GET "+QueryPath, s.query)
	return s, nil
}

// ServeHTTP answers GET /query with 200 and the shard's name.
func (s *Shard) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Shard) query(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.answer)
}
