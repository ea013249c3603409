package service

import (
	"encoding/json"
	"net/http"
)

// Paths every shard and replica serves.
const (
	// QueryPath answers a client's query: 200 with an Answer naming the
	// shard or replica, or 503 with an Answer carrying only Error.
	QueryPath = "/query"
	// PeerPath answers a replica's peer check with the replica's id.
	PeerPath = "/peer"
)

// Answer is the JSON body of every response, e.g.
// {"service":"tag-index","replica":"us1-w2","kind":"quorum","members":3,"replicas":3}
// or, without quorum, {"error":"no quorum: reached 1 of 3"}.
type Answer struct {
	Service string `json:"service,omitempty"`
	// Shard names the node whose shard answered (sharded services).
	Shard string `json:"shard,omitempty"`
	// Replica names the node whose replica answered (quorum services).
	Replica string `json:"replica,omitempty"`
	Kind    Kind   `json:"kind,omitempty"`
	// Members is how many replicas, this one included, the replica reached
	// on its last checks; Replicas is the replica count R.
	Members  int    `json:"members,omitempty"`
	Replicas int    `json:"replicas,omitempty"`
	Error    string `json:"error,omitempty"`
}

// writeJSON writes body, already encoded, with the given status.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing to do about it
}

// encode marshals an Answer, which cannot fail, and appends a newline.
func encode(a Answer) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic("service: marshal answer: " + err.Error())
	}
	return append(b, '\n')
}
