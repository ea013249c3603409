package kindtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aftershock-sre/aftershock/infra/kind"
)

// RequireEnv, when set to 1, turns every reason to skip into a failure.
// `make test` sets it wherever a Docker engine answers, after it has built
// the node image, so that a missing image cannot pass as a skip.
const RequireEnv = "AFTERSHOCK_REQUIRE_KIND"

// Image is the node image tests use: $AFTERSHOCK_KIND_NODE_IMAGE, or the
// offline-built default.
func Image() string {
	if image := os.Getenv("AFTERSHOCK_KIND_NODE_IMAGE"); image != "" {
		return image
	}
	return kind.DefaultNodeImage
}

// Unavailable returns why real kind clusters cannot be created here, or ""
// when they can: they need root (faults open node containers' network
// namespaces), a Docker engine and the node image.
func Unavailable() string {
	if os.Geteuid() != 0 {
		return "needs root: faults open node containers' network namespaces"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := kind.Preflight(ctx, Image())
	switch {
	case err == nil:
		return ""
	case errors.Is(err, kind.ErrNoDocker):
		return "kind tests need a Docker engine: " + err.Error()
	}
	return err.Error()
}

// Require skips the test, saying why, unless real kind clusters can be
// created here (it fails instead when RequireEnv is 1), and returns the node
// image.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("creates real kind clusters; skipped with -short")
	}
	if reason := Unavailable(); reason != "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s=1 but kind clusters cannot be created here: %s", RequireEnv, reason)
		}
		t.Skip(reason)
	}
	return Image()
}
