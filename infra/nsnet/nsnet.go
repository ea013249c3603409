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
// path. Each dial runs on a thread of its own that is then thrown away (see
// inside).
func Dialer(path string, base net.Dialer) DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		var conn net.Conn
		err := inside(path, func() (err error) {
			conn, err = base.DialContext(ctx, network, address)
			return err
		})
		return conn, err
	}
}

// Listen opens a listening socket inside the network namespace at path. The
// socket stays in that namespace however it is used afterwards.
func Listen(path, network, address string) (net.Listener, error) {
	var l net.Listener
	err := inside(path, func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// inside runs fn on a goroutine locked to its own OS thread, which joins the
// namespace at path, runs fn and then exits while still locked, so the
// runtime discards the thread: no thread of this process ever goes back into
// circulation in another namespace. Sockets fn opens stay in the namespace.
func inside(path string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with this goroutine.
		ns, err := netns.GetFromPath(path)
		if err != nil {
			done <- fmt.Errorf("open network namespace %s: %w", path, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			done <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		done <- fn()
	}()
	return <-done
}
