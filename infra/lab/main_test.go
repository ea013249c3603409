package lab

import (
	"testing"

	"github.com/aftershock-sre/aftershock/infra/lab/labtest"
)

// binaries are the real agent and service programs, built once per test run.
var binaries labtest.Binaries

func TestMain(m *testing.M) { labtest.Main(m, &binaries) }
