package nsnet

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// testNamespace makes a named network namespace with its loopback up, and
// deletes it at the end of the test.
func testNamespace(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating network namespaces needs root; CI runs this as root")
	}
	name := fmt.Sprintf("as-nsnet%d-x", os.Getpid())
	for _, argv := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", argv...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", argv, err, out)
		}
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return "/run/netns/" + name
}

// A listener made with Listen is reached by Dialer in the same namespace,
// and not from the host's, whose loopback is another one.
func TestListenAndDialStayInsideTheNamespace(t *testing.T) {
	path := testNamespace(t)
	l, err := Listen(path, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("inside"))
			c.Close()
		}
	}()
	addr := l.Addr().String()

	conn, err := Dialer(path, net.Dialer{Timeout: time.Second})(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s inside %s: %v", addr, path, err)
	}
	buf := make([]byte, 6)
	if _, err := conn.Read(buf); err != nil || string(buf) != "inside" {
		t.Errorf("read %q, %v; want the namespace's listener", buf, err)
	}
	conn.Close()

	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		b := make([]byte, 6)
		_, _ = c.Read(b)
		c.Close()
		if string(b) == "inside" {
			t.Error("the host namespace reached the listener inside the test namespace")
		}
	}
	if _, err := Dialer("/run/netns/as-no-such-namespace", net.Dialer{})(context.Background(), "tcp", addr); err == nil {
		t.Error("a dial into a namespace that does not exist succeeded")
	}
}
