package cloud_test

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/cloud"
)

var (
	instanceID = regexp.MustCompile(`^i-[0-9a-f]{17}$`)
	eniID      = regexp.MustCompile(`^eni-[0-9a-f]{17}$`)
)

func TestNewAPIRejectsBadLimits(t *testing.T) {
	bad := cloud.Limits{CreateNetworkInterface: cloud.Rate{Burst: 5}}
	if _, err := cloud.NewAPI(bad, nil); err == nil || !strings.Contains(err.Error(), "CreateNetworkInterface rate 0/s: want more than 0 calls per second") {
		t.Errorf("NewAPI = %v, want the rate error", err)
	}
	if _, err := cloud.NewIssuer("http://127.0.0.1:1", nil, cloud.Limits{IssuerConcurrency: -1}, nil); err == nil {
		t.Error("NewIssuer accepted a negative concurrency")
	}
	api, _ := startAPI(t, cloud.DefaultLimits(), nil)
	if err := api.SetLimits(bad); err == nil {
		t.Error("SetLimits accepted a zero rate")
	}
	if got := api.Limits(); got != cloud.DefaultLimits() {
		t.Errorf("after a refused SetLimits, Limits() = %+v, want the defaults", got)
	}
}

func TestAPIInventory(t *testing.T) {
	ctx := testContext(t)
	api, url := startAPI(t, cloud.Limits{InstanceQuota: 4}, nil)
	c := cloud.NewClient(url, "asg-us1", nil)

	ids, err := c.RunInstances(ctx, "us1", 3)
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	if len(ids) != 3 {
		t.Fatalf("RunInstances returned %d ids, want 3", len(ids))
	}
	for _, id := range ids {
		if !instanceID.MatchString(id) {
			t.Errorf("instance id %q, want i- and 17 hex digits", id)
		}
	}

	desc, err := c.DescribeInstances(ctx, append(slices.Clone(ids), "i-00000000000000000")...)
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if len(desc.Instances) != 3 {
		t.Fatalf("DescribeInstances found %d instances, want 3 (the unknown id left out)", len(desc.Instances))
	}
	for _, in := range desc.Instances {
		if in.Region != "us1" || in.State != "running" || in.LaunchTime.IsZero() {
			t.Errorf("described %+v, want running in us1 with a launch time", in)
		}
	}

	eni, err := c.CreateNetworkInterface(ctx, ids[0])
	if err != nil {
		t.Fatalf("CreateNetworkInterface: %v", err)
	}
	if !eniID.MatchString(eni) {
		t.Errorf("ENI id %q, want eni- and 17 hex digits", eni)
	}

	gone, err := c.TerminateInstances(ctx, ids[0], "i-00000000000000000")
	if err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	if !slices.Equal(gone, ids[:1]) {
		t.Errorf("TerminateInstances = %v, want %v", gone, ids[:1])
	}
	if again, err := c.TerminateInstances(ctx, ids[0]); err != nil || len(again) != 0 {
		t.Errorf("terminating again = %v, %v; want nothing and no error", again, err)
	}
	inv := api.Instances()
	if len(inv) != 2 || slices.ContainsFunc(inv, func(in cloud.Instance) bool { return in.ID == ids[0] }) {
		t.Errorf("inventory after terminate = %+v, want the 2 others", inv)
	}

	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
		is     error
	}{
		{
			name:   "ENI for a terminated instance",
			call:   func() error { _, err := c.CreateNetworkInterface(ctx, ids[0]); return err },
			status: http.StatusBadRequest, code: cloud.CodeInvalidInstanceIDNotFound, is: cloud.ErrNotFound,
		},
		{
			name:   "ENI without an instance",
			call:   func() error { _, err := c.CreateNetworkInterface(ctx, ""); return err },
			status: http.StatusBadRequest, code: cloud.CodeInvalidParameterValue,
		},
		{
			name:   "launch zero",
			call:   func() error { _, err := c.RunInstances(ctx, "us1", 0); return err },
			status: http.StatusBadRequest, code: cloud.CodeInvalidParameterValue,
		},
		{
			name:   "launch beyond the quota",
			call:   func() error { _, err := c.RunInstances(ctx, "us1", 3); return err },
			status: http.StatusBadRequest, code: cloud.CodeInstanceLimitExceeded,
		},
		{
			name:   "malformed body",
			call:   func() error { return c.Do(ctx, cloud.APIRunInstances, json.RawMessage(`{"count":"many"}`), nil) },
			status: http.StatusBadRequest, code: cloud.CodeInvalidParameterValue,
		},
		{
			name:   "unknown API",
			call:   func() error { return c.Do(ctx, "RebootInstances", nil, nil) },
			status: http.StatusNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae *cloud.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if ae.Status != tt.status || ae.Code != tt.code {
				t.Errorf("err = %v, want %d %q", err, tt.status, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if cloud.Retryable(err) {
				t.Errorf("Retryable(%v) = true, want false", err)
			}
		})
	}
	if ids, err := c.RunInstances(ctx, "us1", 2); err != nil || len(ids) != 2 {
		t.Errorf("launching up to the quota = %v, %v; want 2 ids", ids, err)
	}
}

func TestAPIThrottleBody(t *testing.T) {
	_, url := startAPI(t, cloud.Limits{DescribeInstances: cloud.Rate{PerSecond: 0.001, Burst: 1}}, nil)
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		resp, err := http.Post(url+"/DescribeInstances", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		var body struct{ Code string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("call %d: decode: %v", i, err)
		}
		if resp.StatusCode != want {
			t.Fatalf("call %d: status %d, want %d", i, resp.StatusCode, want)
		}
		if want == http.StatusTooManyRequests && body.Code != "RequestLimitExceeded" {
			t.Errorf("throttled body code %q, want RequestLimitExceeded", body.Code)
		}
	}
}

// hammer calls CreateNetworkInterface as fast as it can for window and
// returns how many calls succeeded and how many were throttled.
func hammer(t *testing.T, c *cloud.Client, instance string, window time.Duration) (ok, throttled int) {
	t.Helper()
	ctx := testContext(t)
	for end := time.Now().Add(window); time.Now().Before(end); {
		_, err := c.CreateNetworkInterface(ctx, instance)
		switch {
		case err == nil:
			ok++
		case errors.Is(err, cloud.ErrThrottled):
			throttled++
		default:
			t.Fatalf("CreateNetworkInterface: %v", err)
		}
		time.Sleep(100 * time.Microsecond)
	}
	return ok, throttled
}

func TestAPIThrottlesAtConfiguredRate(t *testing.T) {
	tests := []struct {
		name   string
		rate   cloud.Rate
		window time.Duration
	}{
		{name: "burst 5 then 5 per second", rate: cloud.Rate{PerSecond: 5, Burst: 5}, window: time.Second},
		{name: "burst 1 then 20 per second", rate: cloud.Rate{PerSecond: 20, Burst: 1}, window: 500 * time.Millisecond},
		{name: "burst 0 means one second's worth", rate: cloud.Rate{PerSecond: 10}, window: 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			api, url := startAPI(t, cloud.Limits{}, nil)
			c := cloud.NewClient(url, "operator", nil)
			ids, err := c.RunInstances(ctx, "us1", 1)
			if err != nil {
				t.Fatalf("RunInstances: %v", err)
			}
			// The bucket starts full when the limit is set.
			if err := api.SetLimits(cloud.Limits{CreateNetworkInterface: tt.rate}); err != nil {
				t.Fatalf("SetLimits: %v", err)
			}
			start := time.Now()
			ok, throttled := hammer(t, c, ids[0], tt.window)
			elapsed := time.Since(start).Seconds()
			want := float64(tt.rate.EffectiveBurst()) + tt.rate.PerSecond*elapsed
			// The limit is never exceeded, however busy the machine is.
			if float64(ok) > want+1.5 {
				t.Errorf("%d calls ok in %.2fs, more than the limit allows: %.1f (burst %d + %g/s)", ok, elapsed, want, tt.rate.EffectiveBurst(), tt.rate.PerSecond)
			}
			if throttled == 0 {
				t.Fatalf("no call throttled against %d ok: the limit was not reached", ok)
			}
			// When the client kept the bucket empty, the limit is also met:
			// a loaded machine may leave gaps, so only then.
			if throttled >= 10*ok && float64(ok) < want-1.5 {
				t.Errorf("%d calls ok in %.2fs, want about %.1f (burst %d + %g/s)", ok, elapsed, want, tt.rate.EffectiveBurst(), tt.rate.PerSecond)
			}
			s := api.Stats()[cloud.APICreateNetworkInterface]
			if s.OK != int64(ok) || s.Throttled != int64(throttled) || s.Calls != int64(ok+throttled) {
				t.Errorf("Stats = %+v, want %d ok and %d throttled", s, ok, throttled)
			}
		})
	}
}

func TestAPISetLimitsRaisesLive(t *testing.T) {
	ctx := testContext(t)
	low := cloud.Limits{CreateNetworkInterface: cloud.Rate{PerSecond: 2, Burst: 1}}
	api, url := startAPI(t, low, nil)
	c := cloud.NewClient(url, "operator", nil)
	ids, err := c.RunInstances(ctx, "us1", 1)
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	// Each step hammers for 400 ms. The bounds are what each limit allows at
	// most, and for the raised one more than the low limit ever could: a
	// loaded machine may send fewer calls, never get more through.
	tests := []struct {
		name   string
		limits cloud.Limits
		min    int
		max    int
	}{
		// 2/s with a burst of 1: the burst and at most one refill.
		{name: "low", limits: low, min: 1, max: 2},
		// Raised to 100/s: more than the low limit's 2, at most 1 + 40 + 1.
		{name: "raised", limits: cloud.Limits{CreateNetworkInterface: cloud.Rate{PerSecond: 100, Burst: 1}}, min: 3, max: 42},
		// Unlimited: nothing is throttled.
		{name: "unlimited", limits: cloud.Limits{}, min: 1, max: math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := api.SetLimits(tt.limits); err != nil {
				t.Fatalf("SetLimits: %v", err)
			}
			ok, throttled := hammer(t, c, ids[0], 400*time.Millisecond)
			if ok < tt.min || ok > tt.max {
				t.Errorf("%d ok (%d throttled) in 400ms, want %d to %d", ok, throttled, tt.min, tt.max)
			}
			if tt.limits.CreateNetworkInterface.IsUnlimited() && throttled != 0 {
				t.Errorf("%d calls throttled with no limit", throttled)
			}
		})
	}
}

func TestStatsMatchObserver(t *testing.T) {
	ctx := testContext(t)
	rec := &recorder{}
	before := time.Now()
	api, url := startAPI(t, cloud.Limits{RunInstances: cloud.Rate{PerSecond: 0.001, Burst: 2}}, rec.observe)
	c := cloud.NewClient(url, "node-a", nil)

	var ids []string
	for range 3 { // the third is throttled
		got, err := c.RunInstances(ctx, "us1", 1)
		if err != nil && !errors.Is(err, cloud.ErrThrottled) {
			t.Fatalf("RunInstances: %v", err)
		}
		ids = append(ids, got...)
	}
	if _, err := c.DescribeInstances(ctx, ids...); err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if _, err := c.CreateNetworkInterface(ctx, "i-00000000000000000"); !errors.Is(err, cloud.ErrNotFound) {
		t.Fatalf("CreateNetworkInterface of an unknown instance = %v, want ErrNotFound", err)
	}
	if _, err := c.TerminateInstances(ctx, ids...); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}

	want := map[string]cloud.APIStats{
		cloud.APIRunInstances:           {Calls: 3, OK: 2, Throttled: 1},
		cloud.APIDescribeInstances:      {Calls: 1, OK: 1},
		cloud.APICreateNetworkInterface: {Calls: 1, Errors: 1},
		cloud.APITerminateInstances:     {Calls: 1, OK: 1},
	}
	stats := api.Stats()
	observed := rec.stats()
	for name, w := range want {
		if stats[name] != w {
			t.Errorf("Stats()[%s] = %+v, want %+v", name, stats[name], w)
		}
		if observed[name] != w {
			t.Errorf("observed %s = %+v, want %+v", name, observed[name], w)
		}
	}
	if len(stats) != len(want) {
		t.Errorf("Stats() has %d APIs, want %d: %+v", len(stats), len(want), stats)
	}
	if got := stats[cloud.APIRunInstances].ThrottledShare(); math.Abs(got-1.0/3) > 1e-9 {
		t.Errorf("ThrottledShare = %g, want 1/3", got)
	}
	for _, call := range rec.all() {
		if call.Caller != "node-a" || call.Time.Before(before) || call.Time.After(time.Now()) || call.Latency < 0 {
			t.Errorf("observed %+v, want caller node-a, a time during the test and a latency", call)
		}
	}
}
