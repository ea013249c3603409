package kind

import (
	_ "embed"
	"os"
	"path/filepath"
)

// dockerShim is a docker wrapper for engines that refuse --privileged
// containers (see the script). kind's Go API runs the `docker` it finds on
// PATH, so while kind creates a cluster the provider puts the folder holding
// this wrapper first on PATH.
//
//go:embed docker-shim.sh
var dockerShim []byte

// writeDockerShim writes the wrapper as dir/docker, inside the run's own
// state folder so that teardown removes it, and returns dir.
func writeDockerShim(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "docker"), dockerShim, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}
