package cloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// LoginInput is the body of an issuer login.
type LoginInput struct {
	InstanceID string `json:"instanceId"`
}

// LoginOutput is a successful login: a token and a (fake) certificate the
// node joins its cluster with.
type LoginOutput struct {
	Token        string `json:"token"`
	Certificate  string `json:"certificate"`
	InstanceID   string `json:"instanceId"`
	LeaseSeconds int    `json:"leaseSeconds"`
}

// leaseSeconds is the lifetime the issuer claims for its certificates.
const leaseSeconds = 3600

// Issuer is an emulated Vault with the AWS auth method: a login names an
// instance, and the issuer checks that it exists with the cloud API's
// DescribeInstances before it hands out a certificate. Logins beyond the
// concurrency limit are shed (503), logins beyond the optional rate are
// throttled (429), and a throttled DescribeInstances fails the login (502).
// Its zero value is not usable; call NewIssuer.
type Issuer struct {
	apiURL string
	client *http.Client
	meter  *meter
	rate   *bucket
	srv    *http.Server

	mu       sync.Mutex
	limits   Limits
	inFlight int
}

// NewIssuer returns an issuer that validates logins against the cloud API at
// apiURL (e.g. "http://10.0.0.1:8080") using client (nil: a client with a
// 10 s timeout). It enforces limits.IssuerConcurrency and limits.IssuerRate
// and ignores the other fields. observe is as for NewAPI.
func NewIssuer(apiURL string, client *http.Client, limits Limits, observe func(Call)) (*Issuer, error) {
	if err := limits.Validate(); err != nil {
		return nil, fmt.Errorf("issuer limits: %w", err)
	}
	if apiURL == "" {
		return nil, errors.New("issuer: the cloud API URL is empty")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	is := &Issuer{
		apiURL: apiURL,
		client: client,
		meter:  newMeter(observe),
		rate:   newBucket(limits.IssuerRate, time.Now()),
		limits: limits,
	}
	is.srv = newHTTPServer(is.Handler())
	return is, nil
}

// Handler serves POST LoginPath.
func (is *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+LoginPath, is.login)
	return mux
}

// Serve answers logins on l until Shutdown. It returns nil after Shutdown.
func (is *Issuer) Serve(l net.Listener) error { return serve(is.srv, l, "issuer") }

// Shutdown stops Serve, waiting for logins in flight until ctx ends.
func (is *Issuer) Shutdown(ctx context.Context) error {
	if err := is.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down issuer: %w", err)
	}
	return nil
}

// Limits returns the limits in force.
func (is *Issuer) Limits() Limits {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.limits
}

// SetLimits changes the concurrency limit and rate while the issuer serves.
// Raising the concurrency lets the next logins in at once; lowering it below
// the logins in flight sheds new ones until enough finish. The cloud API
// fields are ignored here.
func (is *Issuer) SetLimits(l Limits) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("issuer limits: %w", err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.limits = l
	is.rate.set(l.IssuerRate, time.Now())
	return nil
}

// InFlight is the number of logins being served.
func (is *Issuer) InFlight() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.inFlight
}

// Stats returns the call counters, under APIIssuerLogin.
func (is *Issuer) Stats() map[string]APIStats { return is.meter.snapshot() }

func (is *Issuer) acquire() bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	if c := is.limits.IssuerConcurrency; c > 0 && is.inFlight >= c {
		return false
	}
	is.inFlight++
	return true
}

func (is *Issuer) release() {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.inFlight--
}

func (is *Issuer) login(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	caller := callerOf(r)
	fail := func(f *failure) {
		is.meter.record(APIIssuerLogin, caller, f.outcome, start)
		writeFailure(w, f)
	}
	if !is.rate.allow(start) {
		fail(&failure{status: http.StatusTooManyRequests, code: CodeRequestLimitExceeded,
			message: "issuer rate limit exceeded", outcome: OutcomeThrottled})
		return
	}
	if !is.acquire() {
		fail(&failure{status: http.StatusServiceUnavailable, code: CodeServiceUnavailable,
			message: fmt.Sprintf("issuer at its limit of %d concurrent requests", is.Limits().IssuerConcurrency), outcome: OutcomeShed})
		return
	}
	defer is.release()

	var in LoginInput
	if f := decodeBody(r, &in); f != nil {
		fail(f)
		return
	}
	if in.InstanceID == "" {
		fail(badRequest(CodeInvalidParameterValue, "instanceId is required"))
		return
	}
	out, f := is.verify(r.Context(), caller, in.InstanceID)
	if f != nil {
		fail(f)
		return
	}
	if d := is.Limits().IssuerLatency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-r.Context().Done():
			t.Stop()
			fail(&failure{status: http.StatusServiceUnavailable, code: CodeServiceUnavailable,
				message: "login abandoned by the client", outcome: OutcomeError})
			return
		case <-t.C:
		}
	}
	is.meter.record(APIIssuerLogin, caller, OutcomeOK, start)
	writeJSON(w, http.StatusOK, out)
}

// verify checks the instance with DescribeInstances and issues its
// certificate.
func (is *Issuer) verify(ctx context.Context, caller, id string) (LoginOutput, *failure) {
	api := NewClient(is.apiURL, "issuer:"+caller, is.client)
	desc, err := api.DescribeInstances(ctx, id)
	switch {
	case errors.Is(err, ErrThrottled):
		return LoginOutput{}, &failure{status: http.StatusBadGateway, code: CodeUpstreamThrottled,
			message: fmt.Sprintf("login of %s: upstream throttled: %v", id, err), outcome: OutcomeError}
	case err != nil:
		return LoginOutput{}, &failure{status: http.StatusBadGateway, code: CodeUpstreamError,
			message: fmt.Sprintf("login of %s: %v", id, err), outcome: OutcomeError}
	}
	found := false
	for _, inst := range desc.Instances {
		found = found || inst.ID == id
	}
	if !found {
		return LoginOutput{}, &failure{status: http.StatusForbidden, code: CodeLoginDenied,
			message: fmt.Sprintf("login of %s: DescribeInstances does not know the instance", id), outcome: OutcomeError}
	}
	return LoginOutput{
		Token: "hvs." + rand.Text(),
		Certificate: fmt.Sprintf("-----BEGIN CERTIFICATE-----\nfake certificate for %s issued %s\n-----END CERTIFICATE-----\n",
			id, time.Now().UTC().Format(time.RFC3339)),
		InstanceID:   id,
		LeaseSeconds: leaseSeconds,
	}, nil
}
