package terraform

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validateExamplesEnv, set to 1, makes TestExamples also run terraform init
// and validate on the cloud examples; that needs the hashicorp/aws and
// hashicorp/google providers (a registry or a plugin cache).
const validateExamplesEnv = "AFTERSHOCK_TF_VALIDATE_EXAMPLES"

// terraformForTest returns a real terraform, or skips.
func terraformForTest(t *testing.T) string {
	t.Helper()
	tf, err := FindBinary(context.Background())
	if err != nil {
		t.Skipf("needs terraform or tofu (hack/terraform.sh builds one): %v", err)
	}
	return tf
}

func terraformCmd(t *testing.T, tf, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestExamplesFormatted checks that every Terraform file aftershock ships is
// formatted.
func TestExamplesFormatted(t *testing.T) {
	tf := terraformForTest(t)
	for _, dir := range []string{"../../examples/terraform/aws", "../../examples/terraform/gcp", "../../examples/terraform/lab", "modules/lab"} {
		name := filepath.Base(dir)
		if dir == "modules/lab" {
			name = "modules-lab"
		}
		t.Run(name, func(t *testing.T) {
			if out, err := terraformCmd(t, tf, dir, "fmt", "-check", "-recursive", "-diff", "-no-color"); err != nil {
				t.Errorf("terraform fmt -check %s: %v\n%s", dir, err, out)
			}
		})
	}
}

// TestExamplesValidate validates the cloud examples where their providers
// can be installed (TestLabModuleValidates covers the lab module offline).
func TestExamplesValidate(t *testing.T) {
	tf := terraformForTest(t)
	for _, ex := range []struct{ dir, provider string }{
		{"../../examples/terraform/aws", "hashicorp/aws"},
		{"../../examples/terraform/gcp", "hashicorp/google"},
	} {
		t.Run(filepath.Base(ex.dir), func(t *testing.T) {
			if os.Getenv(validateExamplesEnv) != "1" {
				t.Skipf("terraform validate not run: it needs the %s provider, which is not installed here "+
					"(no registry access); set %s=1 where `terraform init` can install it", ex.provider, validateExamplesEnv)
			}
			work := copyModule(t, ex.dir)
			if out, err := terraformCmd(t, tf, work, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
				t.Fatalf("terraform init: %v\n%s", err, out)
			}
			if out, err := terraformCmd(t, tf, work, "validate", "-no-color"); err != nil {
				t.Errorf("terraform validate: %v\n%s", err, out)
			}
		})
	}
}

// TestLabModuleValidates runs terraform init and validate on the lab module,
// and on the root module of examples/terraform/lab that uses it, offline:
// they must need no provider at all.
func TestLabModuleValidates(t *testing.T) {
	tf := terraformForTest(t)
	module, err := filepath.Abs("modules/lab")
	if err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{"module": "modules/lab", "example": "../../examples/terraform/lab"} {
		t.Run(name, func(t *testing.T) {
			work := copyModule(t, dir)
			// The example's relative source points at the module from the
			// source tree; the copy points at it from anywhere.
			main := filepath.Join(work, "main.tf")
			data, err := os.ReadFile(main)
			if err != nil {
				t.Fatal(err)
			}
			if name == "example" {
				if !strings.Contains(string(data), `"../../../infra/terraform/modules/lab"`) {
					t.Fatalf("examples/terraform/lab does not use the lab module by its relative path")
				}
				data = []byte(strings.ReplaceAll(string(data), `"../../../infra/terraform/modules/lab"`, `"`+module+`"`))
				if err := os.WriteFile(main, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := terraformCmd(t, tf, work, "init", "-backend=false", "-input=false", "-no-color")
			if err != nil {
				t.Fatalf("terraform init: %v\n%s", err, out)
			}
			if entries, _ := os.ReadDir(filepath.Join(work, ".terraform", "providers")); len(entries) > 0 {
				t.Errorf("terraform init installed providers: %v", entries)
			}
			if out, err := terraformCmd(t, tf, work, "validate", "-no-color"); err != nil || !strings.Contains(out, "The configuration is valid") {
				t.Errorf("terraform validate: %v\n%s", err, out)
			}
		})
	}
}

// copyModule copies a module's *.tf files into a fresh folder, so that
// init leaves nothing in the source tree.
func copyModule(t *testing.T, dir string) string {
	t.Helper()
	work := t.TempDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s: %v", dir, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return work
}
