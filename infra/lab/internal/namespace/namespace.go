package namespace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir is where iproute2 keeps named network namespaces.
const Dir = "/run/netns"

// Path returns the bind-mount path of the named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// Add creates the named network namespace.
func Add(ctx context.Context, name string) error {
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("create network namespace %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Delete removes the named network namespace, as `ip netns delete` does:
// unmount its bind mount and remove the file. The kernel frees the namespace,
// and the links in it, once no process holds it. Deleting a namespace that
// does not exist is not an error, like rm -f.
func Delete(_ context.Context, name string) error {
	if _, err := os.Stat(Path(name)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	err := netns.DeleteNamed(name)
	if errors.Is(err, unix.EINVAL) {
		// Not a mount point: `ip netns add` was stopped after it created
		// the file and before it bound the namespace to it. Only the file
		// is left to remove.
		err = os.Remove(Path(name))
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete network namespace %s: %w", name, err)
	}
	return nil
}

// List returns the names of the namespaces whose name starts with prefix.
func List(prefix string) ([]string, error) {
	entries, err := os.ReadDir(Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Handle is a netlink handle bound to one named namespace. Close it when done.
type Handle struct {
	*netlink.Handle
	ns netns.NsHandle
}

// Open returns a netlink handle bound to the named namespace. The calling
// thread never changes namespace.
func Open(name string) (*Handle, error) {
	ns, err := netns.GetFromPath(Path(name))
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink handle in %s: %w", name, err)
	}
	return &Handle{Handle: h, ns: ns}, nil
}

// NsFd is the namespace's file descriptor, for moving links into it.
func (h *Handle) NsFd() int { return int(h.ns) }

// Close releases the netlink socket and the namespace descriptor.
func (h *Handle) Close() {
	h.Handle.Close()
	h.ns.Close()
}

// Inode identifies a network namespace: two paths name the same namespace
// exactly when their inodes are equal.
func Inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat network namespace %s: %w", path, err)
	}
	return st.Ino, nil
}

// Processes returns the pids of the processes whose network namespace is the
// one at path. The calling process is never included.
func Processes(path string) ([]int, error) {
	byPath, err := ProcessesIn([]string{path})
	if err != nil {
		return nil, err
	}
	return byPath[path], nil
}

// ProcessesIn maps each namespace path to the pids of the processes living
// in it, from a single scan of /proc. Paths that no longer exist are left
// out. The calling process is never included.
func ProcessesIn(paths []string) (map[string][]int, error) {
	byInode := map[uint64]string{}
	for _, p := range paths {
		ino, err := Inode(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		byInode[ino] = p
	}
	out := map[string][]int{}
	if len(byInode) == 0 {
		return out, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+e.Name()+"/ns/net", &st); err != nil {
			continue // the process exited, or is a kernel thread
		}
		if p, ok := byInode[st.Ino]; ok {
			out[p] = append(out[p], pid)
		}
	}
	return out, nil
}
