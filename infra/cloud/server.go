package cloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Error codes in the bodies of failed calls, {"code":...,"message":...}.
const (
	// CodeRequestLimitExceeded: a token bucket refused the call (HTTP 429).
	CodeRequestLimitExceeded = "RequestLimitExceeded"
	// CodeServiceUnavailable: the issuer is at its concurrency limit (503).
	CodeServiceUnavailable = "ServiceUnavailable"
	// CodeInvalidParameterValue: the request body is malformed (400).
	CodeInvalidParameterValue = "InvalidParameterValue"
	// CodeInvalidInstanceIDNotFound: the instance does not exist (400).
	CodeInvalidInstanceIDNotFound = "InvalidInstanceID.NotFound"
	// CodeInstanceLimitExceeded: RunInstances would exceed the instance
	// quota (400).
	CodeInstanceLimitExceeded = "InstanceLimitExceeded"
	// CodeUpstreamThrottled: the issuer's DescribeInstances call was
	// throttled, so the login failed (502).
	CodeUpstreamThrottled = "UpstreamThrottled"
	// CodeUpstreamError: the issuer could not reach the cloud API (502).
	CodeUpstreamError = "UpstreamError"
	// CodeLoginDenied: the issuer could not verify the instance (403).
	CodeLoginDenied = "LoginDenied"
)

// CallerHeader names the calling process (a node, the network operator) in
// every request; it is recorded in Call.Caller.
const CallerHeader = "X-Caller"

// maxBody bounds request and response bodies.
const maxBody = 1 << 20

// errorBody is the JSON body of every failed call.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// failure is an endpoint's refusal: the HTTP status, the error code and the
// outcome it counts as.
type failure struct {
	status  int
	code    string
	message string
	outcome string
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
}

// serve runs srv on l until Shutdown, which is not an error.
func serve(srv *http.Server, l net.Listener, what string) error {
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s on %s: %w", what, l.Addr(), err)
	}
	return nil
}

func callerOf(r *http.Request) string {
	if c := r.Header.Get(CallerHeader); c != "" {
		return c
	}
	return r.RemoteAddr
}

// decodeBody reads a JSON request body into v; an empty body leaves v as is.
func decodeBody(r *http.Request, v any) *failure {
	err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return &failure{status: http.StatusBadRequest, code: CodeInvalidParameterValue,
		message: fmt.Sprintf("decode request body: %v", err), outcome: OutcomeError}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is sent; a failed write only means the caller went away.
	_ = json.NewEncoder(w).Encode(v)
}

func writeFailure(w http.ResponseWriter, f *failure) {
	writeJSON(w, f.status, errorBody{Code: f.code, Message: f.message})
}
