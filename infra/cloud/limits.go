package cloud

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Rate is a token-bucket limit: PerSecond tokens are added every second, up
// to Burst, and each call takes one.
//
// The zero Rate means "no limit". Any other Rate must have PerSecond > 0; a
// configured rate of 0 or below is an error (see NewRate and Validate), never
// a silent "unlimited". Burst 0 with PerSecond > 0 means one second's worth
// of calls, and at least one.
type Rate struct {
	PerSecond float64
	Burst     int
}

// NoLimit returns the zero Rate, which does not limit calls.
func NoLimit() Rate { return Rate{} }

// NewRate returns a validated limit of perSecond calls per second with the
// given burst (0: one second's worth). It refuses perSecond <= 0: use NoLimit
// to mean "unlimited". The error does not name the API; callers prefix it
// ("CreateNetworkInterface rate 0/s: ...").
func NewRate(perSecond float64, burst int) (Rate, error) {
	r := Rate{PerSecond: perSecond, Burst: burst}
	if r.IsUnlimited() {
		return Rate{}, fmt.Errorf("rate %s/s: want more than 0 calls per second", formatPerSecond(perSecond))
	}
	if err := r.Validate(); err != nil {
		return Rate{}, err
	}
	return r, nil
}

// IsUnlimited reports whether r is the zero Rate.
func (r Rate) IsUnlimited() bool { return r == Rate{} }

// Validate checks a configured rate. The zero Rate (no limit) is valid.
func (r Rate) Validate() error {
	if r.IsUnlimited() {
		return nil
	}
	if math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) || r.PerSecond <= 0 {
		return fmt.Errorf("rate %s/s: want more than 0 calls per second (the zero Rate means no limit)", formatPerSecond(r.PerSecond))
	}
	if r.Burst < 0 {
		return fmt.Errorf("rate %s/s burst %d: want a burst of 0 (one second's worth) or more", formatPerSecond(r.PerSecond), r.Burst)
	}
	return nil
}

// EffectiveBurst is the bucket size the rate is enforced with: Burst, or one
// second's worth of calls (at least one) when Burst is 0. It is 0 for the
// zero Rate.
func (r Rate) EffectiveBurst() int {
	if r.IsUnlimited() {
		return 0
	}
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(math.Ceil(r.PerSecond)))
}

// String formats the rate as "5/s burst 50" or "unlimited".
func (r Rate) String() string {
	if r.IsUnlimited() {
		return "unlimited"
	}
	return fmt.Sprintf("%s/s burst %d", formatPerSecond(r.PerSecond), r.EffectiveBurst())
}

func formatPerSecond(f float64) string {
	return fmt.Sprintf("%g", f)
}

// Limits is the limit table of one region's cloud API and issuer. The same
// table configures both services; each reads its own fields.
type Limits struct {
	// RunInstances limits launch calls (one token per call, whatever the
	// count).
	RunInstances Rate
	// DescribeInstances limits describe calls, including the ones the issuer
	// makes to validate a login.
	DescribeInstances Rate
	// CreateNetworkInterface limits ENI creation, which the network operator
	// needs before a node can be Ready.
	CreateNetworkInterface Rate
	// InstanceQuota is the most instances that may exist at once; RunInstances
	// beyond it fails with InstanceLimitExceeded. 0 means no quota.
	InstanceQuota int
	// IssuerConcurrency is the most logins the issuer serves at once; it sheds
	// the rest with 503. 0 means no limit.
	IssuerConcurrency int
	// IssuerRate limits logins per second (429 beyond it).
	IssuerRate Rate
	// IssuerLatency is how long the issuer works on one login after the
	// instance is verified (signing, storage writes), holding its
	// concurrency slot: a loaded Vault. 0 means no extra time.
	IssuerLatency time.Duration
}

// DefaultLimits returns a lab-scale limit table shaped after EC2's request
// token buckets: DescribeInstances has the documented non-mutating bucket
// (100 tokens, 20 per second), mutating calls refill slowly, and the issuer
// serves 20 concurrent logins, the protection Datadog gave Vault at 18:22 on
// 2023-03-08.
func DefaultLimits() Limits {
	return Limits{
		RunInstances:           Rate{PerSecond: 2, Burst: 5},
		DescribeInstances:      Rate{PerSecond: 20, Burst: 100},
		CreateNetworkInterface: Rate{PerSecond: 5, Burst: 50},
		IssuerConcurrency:      20,
	}
}

// Validate reports every invalid field of the table, each naming its API.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		rate Rate
	}{
		{APIRunInstances, l.RunInstances},
		{APIDescribeInstances, l.DescribeInstances},
		{APICreateNetworkInterface, l.CreateNetworkInterface},
		{APIIssuerLogin, l.IssuerRate},
	} {
		if err := f.rate.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s %w", f.name, err))
		}
	}
	if l.InstanceQuota < 0 {
		errs = append(errs, fmt.Errorf("instance quota %d: want 0 (no quota) or more", l.InstanceQuota))
	}
	if l.IssuerLatency < 0 {
		errs = append(errs, fmt.Errorf("issuer latency %v: want 0 or more", l.IssuerLatency))
	}
	if l.IssuerConcurrency < 0 {
		errs = append(errs, fmt.Errorf("issuer concurrency %d: want 0 (no limit) or more", l.IssuerConcurrency))
	}
	return errors.Join(errs...)
}

// bucket is a non-blocking token bucket that can be re-rated while in use.
type bucket struct {
	mu     sync.Mutex
	rate   Rate
	tokens float64
	last   time.Time
}

func newBucket(r Rate, now time.Time) *bucket {
	return &bucket{rate: r, tokens: float64(r.EffectiveBurst()), last: now}
}

// allow takes a token if one is available at now.
func (b *bucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate.IsUnlimited() {
		return true
	}
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// set changes the limit. Tokens already earned are kept (up to the new
// burst); a bucket that was unlimited starts full.
func (b *bucket) set(r Rate, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate.IsUnlimited() {
		b.tokens = float64(r.EffectiveBurst())
	} else {
		b.refill(now)
		b.tokens = math.Min(b.tokens, float64(r.EffectiveBurst()))
	}
	b.rate = r
	b.last = now
}

func (b *bucket) refill(now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(b.rate.EffectiveBurst()), b.tokens+elapsed.Seconds()*b.rate.PerSecond)
		b.last = now
	}
}
