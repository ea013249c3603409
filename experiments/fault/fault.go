package fault

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-multierror"

	"github.com/aftershock-sre/aftershock/experiments/journal"
)

// Fault is one fault on one target. Inject then Revert; Revert is idempotent
// and restores exactly what Inject removed.
type Fault interface {
	// Name is the fault's kind, e.g. "networkd-restart".
	Name() string
	// Target is the node the fault acts on.
	Target() string
	Inject(ctx context.Context) error
	Revert(ctx context.Context) error
}

// TargetError is a fault's failure on one target. The faults of this package
// return one, and InjectAll and RevertAll return one per failed target.
type TargetError struct {
	Op     string // "inject" or "revert"
	Fault  string
	Target string
	Err    error
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("%s %s on %s: %v", e.Op, e.Fault, e.Target, e.Err)
}

func (e *TargetError) Unwrap() error { return e.Err }

// InjectAll injects every fault, at most width at a time (width < 1 means 1).
// It returns nil or a *multierror.Error holding one *TargetError per failed
// target. Faults not yet started when ctx is done are not started, and are
// reported as failed. Revert every fault afterwards, failed or not: Revert
// restores whatever an Inject removed.
func InjectAll(ctx context.Context, faults []Fault, width int) error {
	return fanOut(ctx, faults, width, "inject", Fault.Inject)
}

// RevertAll reverts every fault, at most width at a time, like InjectAll.
// It honours ctx as InjectAll does: to revert after a cancellation (SIGINT),
// pass a context that is not the cancelled one, e.g. context.WithoutCancel.
func RevertAll(ctx context.Context, faults []Fault, width int) error {
	return fanOut(ctx, faults, width, "revert", Fault.Revert)
}

func fanOut(ctx context.Context, faults []Fault, width int, op string, do func(Fault, context.Context) error) error {
	width = max(width, 1)
	errs := make([]error, len(faults))
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i, f := range faults {
		if err := ctx.Err(); err != nil {
			errs[i] = targetError(op, f, fmt.Errorf("not started: %w", err))
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = targetError(op, f, fmt.Errorf("not started: %w", ctx.Err()))
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = targetError(op, f, fmt.Errorf("panic: %v", p))
				}
			}()
			if err := do(f, ctx); err != nil {
				errs[i] = targetError(op, f, err)
			}
		})
	}
	wg.Wait()
	var merr *multierror.Error
	for _, err := range errs {
		if err != nil {
			merr = multierror.Append(merr, err)
		}
	}
	return merr.ErrorOrNil()
}

// targetError makes sure err names its target, without naming it twice.
func targetError(op string, f Fault, err error) error {
	if te, ok := errors.AsType[*TargetError](err); ok && te.Target == f.Target() {
		return err
	}
	return &TargetError{Op: op, Fault: f.Name(), Target: f.Target(), Err: err}
}

// FailedTargets lists the targets named by the *TargetErrors in err, as
// returned by InjectAll or RevertAll, in order.
func FailedTargets(err error) []string {
	var errs []error
	if merr, ok := errors.AsType[*multierror.Error](err); ok {
		errs = merr.Errors
	} else if err != nil {
		errs = []error{err}
	}
	var targets []string
	for _, e := range errs {
		if te, ok := errors.AsType[*TargetError](e); ok {
			targets = append(targets, te.Target)
		}
	}
	return targets
}

// FromJournal re-creates, from a pending journal entry (see journal.Pending),
// the injected fault it records, ready to Revert. Its steps are recorded in j
// if j is not nil.
func FromJournal(e journal.Entry, j *journal.Journal) (Fault, error) {
	switch e.Fault {
	case NetworkdRestartName:
		return networkdFromJournal(e, j)
	}
	return nil, fmt.Errorf("journal entry %s: unknown fault %q", e.ID, e.Fault)
}

// RevertFromJournal reverts the injection a pending journal entry records,
// e.g. after a crash (`aftershock cleanup`). It writes no journal; use
// FromJournal with the journal to record the outcome.
func RevertFromJournal(ctx context.Context, e journal.Entry) error {
	f, err := FromJournal(e, nil)
	if err != nil {
		return err
	}
	return f.Revert(ctx)
}
