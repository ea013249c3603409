// Command aftershock runs chaos experiments of correlated global failure.
package main

import (
	"os"

	"github.com/aftershock-sre/aftershock/cmd/aftershock/internal/app"
)

func main() {
	os.Exit(app.Main())
}
