package namespace

import (
	"context"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// DialFunc has the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer returns a DialFunc whose sockets are created inside the namespace at
// path. Each dial runs on a goroutine locked to its own OS thread, which joins
// the namespace, opens the socket and then exits while still locked, so the
// runtime discards the thread: no thread of this process ever goes back into
// circulation in another namespace.
func Dialer(path string, base net.Dialer) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			// No UnlockOSThread: the thread dies with this goroutine.
			ns, err := netns.GetFromPath(path)
			if err != nil {
				done <- result{err: fmt.Errorf("open network namespace %s: %w", path, err)}
				return
			}
			defer ns.Close()
			if err := netns.Set(ns); err != nil {
				done <- result{err: fmt.Errorf("enter network namespace %s: %w", path, err)}
				return
			}
			conn, err := base.DialContext(ctx, network, address)
			done <- result{conn: conn, err: err}
		}()
		r := <-done
		return r.conn, r.err
	}
}
