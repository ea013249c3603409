package cloud_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

func TestIssuerLogin(t *testing.T) {
	slow := cloud.Rate{PerSecond: 0.001, Burst: 1}
	tests := []struct {
		name        string
		limits      cloud.Limits
		spend       string // an API whose only token is spent first
		instance    string // "": a running instance
		wantErr     error
		wantStatus  int
		wantCode    string
		wantOutcome string
	}{
		{name: "succeeds", limits: cloud.DefaultLimits(), wantOutcome: cloud.OutcomeOK},
		{
			name: "fails when DescribeInstances is throttled", limits: cloud.Limits{DescribeInstances: slow},
			spend: cloud.APIDescribeInstances, wantErr: cloud.ErrUpstreamThrottled,
			wantStatus: http.StatusBadGateway, wantCode: cloud.CodeUpstreamThrottled, wantOutcome: cloud.OutcomeError,
		},
		{
			name: "refuses an unknown instance", limits: cloud.Limits{}, instance: "i-00000000000000000",
			wantStatus: http.StatusForbidden, wantCode: cloud.CodeLoginDenied, wantOutcome: cloud.OutcomeError,
		},
		{
			name: "throttles beyond its own rate", limits: cloud.Limits{IssuerRate: slow},
			spend: cloud.APIIssuerLogin, wantErr: cloud.ErrThrottled,
			wantStatus: http.StatusTooManyRequests, wantCode: cloud.CodeRequestLimitExceeded, wantOutcome: cloud.OutcomeThrottled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			apiCalls := &recorder{}
			api, apiURL := startAPI(t, tt.limits, apiCalls.observe)
			issuerCalls := &recorder{}
			is, issuerURL := startIssuer(t, apiURL, tt.limits, issuerCalls.observe)

			ids, err := cloud.NewClient(apiURL, "asg", nil).RunInstances(ctx, "us1", 1)
			if err != nil {
				t.Fatalf("RunInstances: %v", err)
			}
			id := ids[0]
			if tt.instance != "" {
				id = tt.instance
			}
			node := cloud.NewClient(issuerURL, "node-a", nil)
			switch tt.spend {
			case cloud.APIDescribeInstances:
				if _, err := cloud.NewClient(apiURL, "someone", nil).DescribeInstances(ctx); err != nil {
					t.Fatalf("spend DescribeInstances: %v", err)
				}
			case cloud.APIIssuerLogin:
				if _, err := node.Login(ctx, id); err != nil {
					t.Fatalf("spend a login: %v", err)
				}
			}

			out, err := node.Login(ctx, id)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Login: %v", err)
				}
				if !strings.HasPrefix(out.Token, "hvs.") || !strings.Contains(out.Certificate, id) || out.InstanceID != id || out.LeaseSeconds <= 0 {
					t.Errorf("Login = %+v, want a token and a certificate for %s", out, id)
				}
			} else {
				var ae *cloud.APIError
				if !errors.As(err, &ae) || ae.Status != tt.wantStatus || ae.Code != tt.wantCode {
					t.Fatalf("Login = %v, want %d %s", err, tt.wantStatus, tt.wantCode)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.wantErr)
				}
				if got, want := cloud.Retryable(err), tt.wantErr != nil; got != want {
					t.Errorf("Retryable(%v) = %v, want %v", err, got, want)
				}
			}

			calls := issuerCalls.all()
			last := calls[len(calls)-1]
			if last.API != cloud.APIIssuerLogin || last.Outcome != tt.wantOutcome || last.Caller != "node-a" {
				t.Errorf("last issuer call %+v, want a %s login by node-a", last, tt.wantOutcome)
			}
			if s := is.Stats()[cloud.APIIssuerLogin]; s != issuerCalls.stats()[cloud.APIIssuerLogin] {
				t.Errorf("issuer Stats %+v do not match the observer %+v", s, issuerCalls.stats())
			}
			// The issuer validated through the cloud API, under its own name.
			if tt.wantOutcome != cloud.OutcomeThrottled {
				apiLast := apiCalls.all()[len(apiCalls.all())-1]
				if apiLast.API != cloud.APIDescribeInstances || apiLast.Caller != "issuer:node-a" {
					t.Errorf("last cloud API call %+v, want DescribeInstances by issuer:node-a", apiLast)
				}
			}
			if tt.wantCode == cloud.CodeUpstreamThrottled && api.Stats()[cloud.APIDescribeInstances].Throttled != 1 {
				t.Errorf("cloud API Stats %+v, want one throttled DescribeInstances", api.Stats())
			}
		})
	}
}

func TestIssuerShedsBeyondConcurrency(t *testing.T) {
	const limit = 3
	ctx := testContext(t)
	api, _ := startAPI(t, cloud.Limits{}, nil)
	g := newGate()
	upstream := httptestServer(t, g.wrap(api.Handler()))
	limits := cloud.Limits{IssuerConcurrency: limit}
	is, issuerURL := startIssuer(t, upstream, limits, nil)

	ids, err := cloud.NewClient(upstream, "asg", nil).RunInstances(ctx, "us1", limit+1)
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, limit+1)
	login := func(id string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cloud.NewClient(issuerURL, id, nil).Login(ctx, id)
			errs <- err
		}()
	}
	defer func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		wg.Wait()
	}()

	for _, id := range ids[:limit] {
		login(id)
	}
	g.waitArrivals(t, limit)
	if n := is.InFlight(); n != limit {
		t.Fatalf("InFlight() = %d, want %d", n, limit)
	}

	_, err = cloud.NewClient(issuerURL, "late", nil).Login(ctx, ids[limit])
	if !errors.Is(err, cloud.ErrShed) || !cloud.Retryable(err) {
		t.Fatalf("login beyond the limit = %v, want ErrShed", err)
	}
	var ae *cloud.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != cloud.CodeServiceUnavailable {
		t.Errorf("shed login = %v, want 503 ServiceUnavailable", err)
	}

	// Raising the limit lets the next login in while the others still wait.
	limits.IssuerConcurrency = limit + 1
	if err := is.SetLimits(limits); err != nil {
		t.Fatalf("SetLimits: %v", err)
	}
	login(ids[limit])
	g.waitArrivals(t, 1)

	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("held login: %v", err)
		}
	}
	want := cloud.APIStats{Calls: limit + 2, OK: limit + 1, Shed: 1}
	if s := is.Stats()[cloud.APIIssuerLogin]; s != want {
		t.Errorf("issuer Stats = %+v, want %+v", s, want)
	}
	if n := is.InFlight(); n != 0 {
		t.Errorf("InFlight() after the logins = %d, want 0", n)
	}
}
