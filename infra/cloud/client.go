package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sentinel errors a failed call matches with errors.Is.
var (
	// ErrThrottled: a token bucket refused the call (HTTP 429).
	ErrThrottled = errors.New("throttled")
	// ErrShed: the service was at its concurrency limit (HTTP 503).
	ErrShed = errors.New("shed")
	// ErrUpstreamThrottled: the issuer's DescribeInstances was throttled, so
	// the login failed (HTTP 502).
	ErrUpstreamThrottled = errors.New("upstream throttled")
	// ErrNotFound: the instance does not exist.
	ErrNotFound = errors.New("instance not found")
	// ErrInstanceLimitExceeded: RunInstances would exceed the instance quota.
	ErrInstanceLimitExceeded = errors.New("instance limit exceeded")
)

// APIError is a call the service answered with an error status.
type APIError struct {
	API     string
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: %d %s: %s", e.API, e.Status, e.Code, msg)
}

// Is matches ErrThrottled, ErrShed, ErrUpstreamThrottled, ErrNotFound and
// ErrInstanceLimitExceeded.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests
	case ErrShed:
		return e.Status == http.StatusServiceUnavailable
	case ErrUpstreamThrottled:
		return e.Code == CodeUpstreamThrottled
	case ErrNotFound:
		return e.Code == CodeInvalidInstanceIDNotFound
	case ErrInstanceLimitExceeded:
		return e.Code == CodeInstanceLimitExceeded
	}
	return false
}

// Retryable reports whether a failed call is worth retrying: it was
// throttled, shed, or failed because the issuer's upstream was throttled.
func Retryable(err error) bool {
	return errors.Is(err, ErrThrottled) || errors.Is(err, ErrShed) || errors.Is(err, ErrUpstreamThrottled)
}

// Client calls the cloud API or the issuer for one caller (a node, the
// network operator). It is safe for concurrent use.
type Client struct {
	baseURL string
	caller  string
	http    *http.Client

	mu  sync.Mutex
	rnd *rand.Rand
}

// NewClient returns a client of the service at baseURL (e.g.
// "http://10.0.0.1:8080") that names itself caller in every request. A nil
// hc means http.DefaultClient; the context of each call bounds it.
func NewClient(baseURL, caller string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		baseURL: strings.TrimSuffix(baseURL, "/"),
		caller:  caller,
		http:    hc,
		rnd:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
}

// Seed makes the retry jitter reproducible.
func (c *Client) Seed(seed uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rnd = rand.New(rand.NewPCG(seed, seed))
}

// Do calls api (an API name such as APICreateNetworkInterface, or
// APIIssuerLogin) with body as JSON, and decodes the answer into out unless
// out is nil. A refusal is an *APIError that matches ErrThrottled, ErrShed,
// ErrUpstreamThrottled or ErrNotFound.
func (c *Client) Do(ctx context.Context, api string, body, out any) error {
	payload := []byte("{}")
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode %s request: %w", api, err)
		}
	}
	url := c.baseURL + pathOf(api)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("build %s request: %w", api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.caller != "" {
		req.Header.Set(CallerHeader, c.caller)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", api, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read %s answer: %w", api, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{API: api, Status: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil {
			e.Code, e.Message = eb.Code, eb.Message
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s answer: %w", api, err)
		}
	}
	return nil
}

func pathOf(api string) string {
	if api == APIIssuerLogin {
		return LoginPath
	}
	return "/" + api
}

// RetryUntil calls fn until it succeeds, fails with an error that is not
// Retryable, or ctx ends, waiting between attempts as policy says. It
// returns the number of attempts made, the last one included even if ctx
// cut it short. Once ctx ends the error wraps both ctx.Err() and the last
// Retryable error.
func (c *Client) RetryUntil(ctx context.Context, policy RetryPolicy, fn func(ctx context.Context) error) (int, error) {
	if err := policy.Validate(); err != nil {
		return 0, err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var lastRetryable error
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil && lastRetryable != nil && !Retryable(err) {
			// ctx ended during this attempt: what stopped the retries is the
			// context, and what they were retrying is the last real answer.
			return attempt, fmt.Errorf("gave up after %d attempts: %w (last: %w)", attempt, ctx.Err(), lastRetryable)
		}
		if !Retryable(err) {
			return attempt, err
		}
		lastRetryable = err
		if ctx.Err() != nil {
			return attempt, fmt.Errorf("gave up after %d attempts: %w (last: %w)", attempt, ctx.Err(), err)
		}
		c.mu.Lock()
		wait := policy.Next(attempt, c.rnd)
		c.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return attempt, fmt.Errorf("gave up after %d attempts: %w (last: %w)", attempt, ctx.Err(), err)
		case <-timer.C:
		}
	}
}

// RunInstances launches count instances in region.
func (c *Client) RunInstances(ctx context.Context, region string, count int) ([]string, error) {
	var out RunInstancesOutput
	if err := c.Do(ctx, APIRunInstances, RunInstancesInput{Count: count, Region: region}, &out); err != nil {
		return nil, err
	}
	return out.InstanceIDs, nil
}

// DescribeInstances describes the instances among ids that exist.
func (c *Client) DescribeInstances(ctx context.Context, ids ...string) (DescribeInstancesOutput, error) {
	var out DescribeInstancesOutput
	err := c.Do(ctx, APIDescribeInstances, DescribeInstancesInput{InstanceIDs: ids}, &out)
	return out, err
}

// TerminateInstances terminates the instances among ids that exist and
// returns them.
func (c *Client) TerminateInstances(ctx context.Context, ids ...string) ([]string, error) {
	var out TerminateInstancesOutput
	if err := c.Do(ctx, APITerminateInstances, TerminateInstancesInput{InstanceIDs: ids}, &out); err != nil {
		return nil, err
	}
	return out.TerminatedInstanceIDs, nil
}

// CreateNetworkInterface creates an ENI for the instance and returns its id.
func (c *Client) CreateNetworkInterface(ctx context.Context, instanceID string) (string, error) {
	var out CreateNetworkInterfaceOutput
	if err := c.Do(ctx, APICreateNetworkInterface, CreateNetworkInterfaceInput{InstanceID: instanceID}, &out); err != nil {
		return "", err
	}
	return out.NetworkInterfaceID, nil
}

// LoginUntilIssued logs the instance in to the issuer, retrying every
// failure (shed, throttled, unreachable, anything) as policy says until the
// certificate is issued or ctx ends, as Vault agent's auto-auth does on a
// booting node. It returns the attempts made.
func (c *Client) LoginUntilIssued(ctx context.Context, policy RetryPolicy, instanceID string) (int, error) {
	if err := policy.Validate(); err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		_, err := c.Login(ctx, instanceID)
		if err == nil {
			return attempt, nil
		}
		c.mu.Lock()
		wait := policy.Next(attempt, c.rnd)
		c.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("login of %s: gave up after %d attempts: %w (last: %w)", instanceID, attempt, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Login asks the issuer for the instance's certificate.
func (c *Client) Login(ctx context.Context, instanceID string) (LoginOutput, error) {
	var out LoginOutput
	err := c.Do(ctx, APIIssuerLogin, LoginInput{InstanceID: instanceID}, &out)
	return out, err
}
