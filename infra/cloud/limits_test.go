package cloud

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		want   []string // substrings of the error; none: valid
	}{
		{name: "defaults", limits: DefaultLimits()},
		{name: "zero value is unlimited", limits: Limits{}},
		{
			name:   "zero rate with a burst",
			limits: Limits{CreateNetworkInterface: Rate{PerSecond: 0, Burst: 5}},
			want:   []string{"CreateNetworkInterface rate 0/s: want more than 0 calls per second"},
		},
		{
			name:   "negative rate",
			limits: Limits{DescribeInstances: Rate{PerSecond: -1}},
			want:   []string{"DescribeInstances rate -1/s: want more than 0 calls per second"},
		},
		{
			name:   "NaN rate",
			limits: Limits{RunInstances: Rate{PerSecond: math.NaN()}},
			want:   []string{"RunInstances rate NaN/s"},
		},
		{
			name:   "infinite rate",
			limits: Limits{RunInstances: Rate{PerSecond: math.Inf(1)}},
			want:   []string{"RunInstances rate +Inf/s", "the zero Rate means no limit"},
		},
		{
			name:   "negative burst",
			limits: Limits{CreateNetworkInterface: Rate{PerSecond: 5, Burst: -1}},
			want:   []string{"CreateNetworkInterface rate 5/s burst -1: want a burst of 0"},
		},
		{
			name:   "issuer rate",
			limits: Limits{IssuerRate: Rate{Burst: 1}},
			want:   []string{"IssuerLogin rate 0/s"},
		},
		{
			name:   "negative concurrency and quota",
			limits: Limits{IssuerConcurrency: -1, InstanceQuota: -2},
			want:   []string{"issuer concurrency -1: want 0 (no limit) or more", "instance quota -2"},
		},
		{
			name: "every bad field is reported",
			limits: Limits{
				RunInstances:           Rate{PerSecond: -2},
				CreateNetworkInterface: Rate{PerSecond: 0, Burst: 1},
			},
			want: []string{"RunInstances rate -2/s", "CreateNetworkInterface rate 0/s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.limits.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestNewRate(t *testing.T) {
	tests := []struct {
		perSecond float64
		burst     int
		wantErr   string
		wantBurst int
		wantStr   string
	}{
		{perSecond: 0, wantErr: "rate 0/s: want more than 0 calls per second"},
		{perSecond: -5, wantErr: "rate -5/s: want more than 0 calls per second"},
		{perSecond: 5, burst: -3, wantErr: "burst -3"},
		{perSecond: 5, wantBurst: 5, wantStr: "5/s burst 5"},
		{perSecond: 0.5, wantBurst: 1, wantStr: "0.5/s burst 1"},
		{perSecond: 2.5, wantBurst: 3, wantStr: "2.5/s burst 3"},
		{perSecond: 5, burst: 50, wantBurst: 50, wantStr: "5/s burst 50"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr+tt.wantStr, func(t *testing.T) {
			r, err := NewRate(tt.perSecond, tt.burst)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewRate(%g, %d) = %v, %v; want error %q", tt.perSecond, tt.burst, r, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRate(%g, %d): %v", tt.perSecond, tt.burst, err)
			}
			if r.IsUnlimited() || r.EffectiveBurst() != tt.wantBurst || r.String() != tt.wantStr {
				t.Errorf("NewRate(%g, %d) = %v (burst %d), want %q", tt.perSecond, tt.burst, r, r.EffectiveBurst(), tt.wantStr)
			}
		})
	}
	if s := NoLimit().String(); !NoLimit().IsUnlimited() || s != "unlimited" {
		t.Errorf("NoLimit() = %q, want unlimited", s)
	}
}

// TestBucket drives the token bucket with a fake clock.
func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms      int
		set     *Rate // change the rate instead of calling allow
		calls   int
		allowed int
	}
	tests := []struct {
		name  string
		rate  Rate
		steps []step
	}{
		{
			name: "burst 5 then 5 per second",
			rate: Rate{PerSecond: 5, Burst: 5},
			steps: []step{
				{ms: 0, calls: 10, allowed: 5},
				{ms: 199, calls: 1, allowed: 0},
				{ms: 200, calls: 3, allowed: 1},
				{ms: 1200, calls: 10, allowed: 5},
				{ms: 60000, calls: 10, allowed: 5}, // never more than the burst
			},
		},
		{
			name: "unlimited",
			rate: Rate{},
			steps: []step{
				{ms: 0, calls: 10000, allowed: 10000},
			},
		},
		{
			name: "raising the rate keeps the tokens and refills faster",
			rate: Rate{PerSecond: 1, Burst: 1},
			steps: []step{
				{ms: 0, calls: 2, allowed: 1},
				{ms: 500, set: &Rate{PerSecond: 100, Burst: 10}},
				{ms: 500, calls: 1, allowed: 0}, // half a token earned at the old rate
				{ms: 506, calls: 1, allowed: 1},
				{ms: 1000, calls: 20, allowed: 10},
			},
		},
		{
			name: "lowering the burst drops the extra tokens",
			rate: Rate{PerSecond: 1, Burst: 10},
			steps: []step{
				{ms: 0, set: &Rate{PerSecond: 1, Burst: 2}},
				{ms: 0, calls: 5, allowed: 2},
			},
		},
		{
			name: "an unlimited bucket that gets a limit starts full",
			rate: Rate{},
			steps: []step{
				{ms: 0, calls: 100, allowed: 100},
				{ms: 0, set: &Rate{PerSecond: 1, Burst: 3}},
				{ms: 0, calls: 5, allowed: 3},
				{ms: 1000, set: &Rate{}},
				{ms: 1000, calls: 50, allowed: 50},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBucket(tt.rate, t0)
			for i, s := range tt.steps {
				if s.set != nil {
					b.set(*s.set, at(s.ms))
					continue
				}
				got := 0
				for range s.calls {
					if b.allow(at(s.ms)) {
						got++
					}
				}
				if got != s.allowed {
					t.Errorf("step %d at %dms: %d of %d calls allowed, want %d", i, s.ms, got, s.calls, s.allowed)
				}
			}
		})
	}
}
