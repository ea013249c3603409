package nsnet

import (
	"context"
	"fmt"
	"net"
	"runtime"

	"github.com/vishvananda/netns"
)

// DialFunc has the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer returns a DialFunc whose sockets are created inside the network
// namespace at path (/run/netns/NAME, or /proc/PID/ns/net). Each dial runs on
// a thread of its own that is then thrown away (see inside). Addresses should
// be IPs: name lookups would run inside the namespace too.
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

// inside runs fn on a goroutine locked to its OS thread while the thread is
// in the namespace at path, then moves the thread back and unlocks it.
// Sockets fn opens stay in the namespace. The thread goes back into
// circulation only once it is home again; if it cannot get home it stays
// locked, so the runtime retires it with the goroutine. Threads are not
// retired otherwise: a child process forked earlier from the same thread
// would get its parent-death signal (Pdeathsig fires when the forking
// thread exits).
func inside(path string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("this thread's network namespace: %w", err)
			return
		}
		defer home.Close()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("open network namespace %s: %w", path, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			if netns.Set(home) == nil {
				runtime.UnlockOSThread()
			}
			done <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		err = fn()
		if netns.Set(home) == nil {
			runtime.UnlockOSThread()
		} // else: stays locked, and the thread is retired
		done <- err
	}()
	return <-done
}
