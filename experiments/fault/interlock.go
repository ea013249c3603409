package fault

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	"github.com/vishvananda/netns"
)

// ErrNotThisRun means a fault was pointed at a network namespace that its
// Interlock does not admit: the run neither created it nor received it from
// its provider.
var ErrNotThisRun = errors.New("refusing a network namespace this run did not create or receive from its provider")

// ErrTargetReplaced means the path a fault was injected through now leads to
// another network namespace: the node was replaced, and what the fault
// removed went with the old one.
var ErrTargetReplaced = errors.New("target replaced")

// nsID identifies a namespace: the device and inode of its nsfs file. Paths
// can be re-pointed (a node replaced under the same name); the inode cannot.
type nsID struct {
	Dev, Ino uint64
}

// Interlock is the set of network namespaces one run may change: those it
// created, or that a provider handed it for this run. Each is pinned by its
// inode when it is admitted, so a path that later leads elsewhere is refused
// too. A fault that has an Interlock refuses every other namespace before it
// reads or changes anything; the host's namespace is refused whether or not
// there is one. It is safe for concurrent use.
type Interlock struct {
	mu      sync.RWMutex
	allowed map[nsID]string // the path each namespace was admitted as
}

// NewInterlock returns an Interlock that admits nothing yet.
func NewInterlock() *Interlock {
	return &Interlock{allowed: map[nsID]string{}}
}

// Allow admits the network namespace that path leads to now, e.g. a lab
// node's /run/netns/as-<run>-<node> or a kind node's /proc/<pid>/ns/net. It
// refuses the host's namespace (ErrHostNamespace), a missing one
// (ErrTargetGone) and anything that is not a network namespace.
func (il *Interlock) Allow(path string) error {
	id, err := identify(path)
	if err != nil {
		return fmt.Errorf("interlock: %w", err)
	}
	il.mu.Lock()
	defer il.mu.Unlock()
	if il.allowed == nil {
		il.allowed = map[nsID]string{}
	}
	il.allowed[id] = path
	return nil
}

// Admitted lists the paths of the admitted namespaces, sorted.
func (il *Interlock) Admitted() []string {
	il.mu.RLock()
	defer il.mu.RUnlock()
	paths := make([]string, 0, len(il.allowed))
	for _, p := range il.allowed {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// check fails with ErrNotThisRun unless id was admitted.
func (il *Interlock) check(path string, id nsID) error {
	il.mu.RLock()
	_, ok := il.allowed[id]
	il.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %s (inode %d)", ErrNotThisRun, path, id.Ino)
	}
	return nil
}

// identify opens path, checks that it is a network namespace and not the
// host's, and returns its identity.
func identify(path string) (nsID, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nsID{}, fmt.Errorf("%w: %s", ErrTargetGone, path)
		}
		return nsID{}, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	n := &nodeNet{path: path, ns: ns}
	defer n.Close()
	if err := n.check(); err != nil {
		return nsID{}, err
	}
	return n.id, nil
}
