package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// KubeVersion is the Kubernetes release the lab's control planes run. It must
// match KUBE_VERSION in hack/versions.env, which builds them (a test checks).
const KubeVersion = "v1.36.3"

// Binaries are the real components every lab cluster runs.
type Binaries struct {
	Etcd, APIServer, ControllerManager string
}

// FindBinaries locates etcd (on PATH, from Debian's etcd-server) and the
// Kubernetes binaries that hack/build-kube.sh builds. It looks in, in order:
// $AFTERSHOCK_KUBE_BIN; $AFTERSHOCK_CACHE/kube/<version>/bin; .cache/kube/<version>/bin
// in the working folder or any folder above it; then PATH.
func FindBinaries() (Binaries, error) {
	var b Binaries
	var errs []error
	var err error
	if b.Etcd, err = exec.LookPath("etcd"); err != nil {
		errs = append(errs, fmt.Errorf("etcd not found on PATH (install Debian's etcd-server: make deps)"))
	}
	dirs := kubeBinDirs()
	find := func(name string) string {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
				return p
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		errs = append(errs, fmt.Errorf("%s %s not found in %v or on PATH (build it: make deps)", name, KubeVersion, dirs))
		return ""
	}
	b.APIServer = find("kube-apiserver")
	b.ControllerManager = find("kube-controller-manager")
	return b, errors.Join(errs...)
}

func kubeBinDirs() []string {
	var dirs []string
	if d := os.Getenv("AFTERSHOCK_KUBE_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	sub := filepath.Join("kube", KubeVersion, "bin")
	if c := os.Getenv("AFTERSHOCK_CACHE"); c != "" {
		dirs = append(dirs, filepath.Join(c, sub))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".cache", sub))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return dirs
}

func (b Binaries) check() error {
	var errs []error
	for name, p := range map[string]string{"etcd": b.Etcd, "kube-apiserver": b.APIServer, "kube-controller-manager": b.ControllerManager} {
		if p == "" {
			errs = append(errs, fmt.Errorf("no path to %s (use lab.FindBinaries)", name))
			continue
		}
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// AgentBinary is the node agent's executable name.
const AgentBinary = "aftershock-agent"

// ServiceBinary runs one shard or replica of a degraded-mode service.
const ServiceBinary = "aftershock-service"

// FindAgent locates the node agent: beside the running executable (make build
// puts them all in bin/), then on PATH.
func FindAgent() (string, error) { return findCompanion(AgentBinary) }

// FindService locates aftershock-service the same way.
func FindService() (string, error) { return findCompanion(ServiceBinary) }

func findCompanion(name string) (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found beside this executable or on PATH (build it: make build)", name)
}
