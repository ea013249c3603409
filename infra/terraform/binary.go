package terraform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
)

// BinaryEnv names an environment variable holding the path of the terraform
// (or tofu) executable to use; it wins over every other place.
const BinaryEnv = "AFTERSHOCK_TERRAFORM"

// openTofu is OpenTofu's CLI, for hc-install's file-system lookup.
var openTofu = product.Product{Name: "tofu", BinaryName: func() string { return "tofu" }}

// FindBinary locates a Terraform CLI with hc-install's fs.AnyVersion: the
// path in $AFTERSHOCK_TERRAFORM if set (and nothing else then); else terraform
// on PATH or in the cache folders hack/terraform.sh builds into
// ($AFTERSHOCK_CACHE/terraform/*/bin, then .cache/terraform/*/bin in the
// working folder or any folder above it); else OpenTofu's tofu on PATH. If
// none is found the error wraps ErrNoBinary and says how to get one.
func FindBinary(ctx context.Context) (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoBinary, BinaryEnv, p, err)
		}
		path, err := (&fs.AnyVersion{ExactBinPath: abs}).Find(ctx)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoBinary, BinaryEnv, p, err)
		}
		return path, nil
	}
	var errs []error
	for _, source := range []*fs.AnyVersion{
		{Product: &product.Terraform, ExtraPaths: cacheBinDirs()},
		{Product: &openTofu},
	} {
		path, err := source.Find(ctx)
		if err == nil {
			return path, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("%w on PATH or in %v (install terraform or OpenTofu, set %s, or build Terraform v1.5.7 "+
		"from the Go module proxy with hack/terraform.sh): %w", ErrNoBinary, cacheBinDirs(), BinaryEnv, errors.Join(errs...))
}

// cacheBinDirs lists the folders hack/terraform.sh may have built into,
// newest version first.
func cacheBinDirs() []string {
	var roots []string
	if c := os.Getenv("AFTERSHOCK_CACHE"); c != "" {
		roots = append(roots, c)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, filepath.Join(d, ".cache"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	var dirs []string
	for _, root := range roots {
		found, _ := filepath.Glob(filepath.Join(root, "terraform", "*", "bin"))
		sort.Sort(sort.Reverse(sort.StringSlice(found)))
		dirs = append(dirs, found...)
	}
	return dirs
}
