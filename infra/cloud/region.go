package cloud

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Region is one emulated region's cloud API and certificate issuer, served
// on listeners the fleet provides, and the controllers (auto-scaling group,
// network operators, joining nodes) that run against them until Close.
type Region struct {
	Name   string
	API    *API
	Issuer *Issuer

	// hc is the controllers' HTTP client, whose idle connections Close
	// closes before it shuts the servers down.
	hc   *http.Client
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	// onError is told a controller's or server's error, unless the region
	// was closing.
	onError func(error)
}

// StartRegion serves the region's cloud API on apiL and its issuer on
// issuerL. The issuer validates logins against the API at apiURL through hc.
// observe is told every call either answers; onError (optional) every error
// a server or controller returns while the region runs. Controllers should
// call the services through hc too, so that Close can close their idle
// connections.
func StartRegion(ctx context.Context, name string, limits Limits, observe func(Call), apiL, issuerL net.Listener,
	apiURL string, hc *http.Client, onError func(error)) (*Region, error) {
	if observe == nil {
		observe = func(Call) {}
	}
	if onError == nil {
		onError = func(error) {}
	}
	r := &Region{Name: name, hc: hc, onError: onError}
	var err error
	if r.API, err = NewAPI(limits, observe); err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	if r.Issuer, err = NewIssuer(apiURL, hc, limits, observe); err != nil {
		return nil, fmt.Errorf("region %s: %w", name, err)
	}
	r.ctx, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	r.Go(func(context.Context) error { return r.API.Serve(apiL) })
	r.Go(func(context.Context) error { return r.Issuer.Serve(issuerL) })
	return r, nil
}

// Go runs fn on a goroutine with the region's context, which ends at Close;
// Close waits for it.
func (r *Region) Go(fn func(ctx context.Context) error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := fn(r.ctx); err != nil && r.ctx.Err() == nil {
			r.onError(fmt.Errorf("region %s: %w", r.Name, err))
		}
	}()
}

// Close stops the controllers, then the servers, and waits for all of them.
func (r *Region) Close(ctx context.Context) {
	r.stop()
	// A call cancelled while it dialled leaves a connection that never sent
	// a request; the server's Shutdown would wait 5 s for it.
	if r.hc != nil {
		r.hc.CloseIdleConnections()
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = r.API.Shutdown(sctx)
	_ = r.Issuer.Shutdown(sctx)
	r.wg.Wait()
}

// Limits is the limit table in force.
func (r *Region) Limits() Limits { return r.API.Limits() }

// SetLimits changes both services' limits while they run.
func (r *Region) SetLimits(l Limits) error {
	if err := r.API.SetLimits(l); err != nil {
		return fmt.Errorf("region %s: %w", r.Name, err)
	}
	if err := r.Issuer.SetLimits(l); err != nil {
		return fmt.Errorf("region %s: %w", r.Name, err)
	}
	return nil
}

// Stats merges the cloud API's and the issuer's counters.
func (r *Region) Stats() map[string]APIStats {
	out := r.API.Stats()
	for k, v := range r.Issuer.Stats() {
		out[k] = v
	}
	return out
}
