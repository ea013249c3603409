package terraform

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// dialFunc has the signature of net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// netnsDialer returns a dialFunc whose sockets are created inside the network
// namespace at path (the embedded lab's fabric, where its API servers are
// reachable). Each dial locks a goroutine to its OS thread, moves the thread
// into the namespace, creates the socket, and moves it back before unlocking;
// a thread that cannot be moved back stays locked, so the runtime retires it
// rather than reuse it. Addresses should be IPs: name lookups run elsewhere.
func netnsDialer(path string) dialFunc {
	base := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			home, err := netns.Get()
			if err != nil {
				runtime.UnlockOSThread()
				done <- result{err: fmt.Errorf("dial %s from %s: this thread's namespace: %w", address, path, err)}
				return
			}
			defer home.Close()
			target, err := netns.GetFromPath(path)
			if err != nil {
				runtime.UnlockOSThread()
				done <- result{err: fmt.Errorf("dial %s: open network namespace %s: %w", address, path, err)}
				return
			}
			defer target.Close()
			if err := netns.Set(target); err != nil {
				_ = netns.Set(home)
				done <- result{err: fmt.Errorf("dial %s: enter network namespace %s: %w", address, path, err)}
				return // stays locked: the thread is retired
			}
			conn, err := base.DialContext(ctx, network, address)
			if rerr := netns.Set(home); rerr != nil {
				done <- result{conn: conn, err: err}
				return // stays locked: the thread is retired
			}
			runtime.UnlockOSThread()
			done <- result{conn: conn, err: err}
		}()
		r := <-done
		return r.conn, r.err
	}
}
