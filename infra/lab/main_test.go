package lab

import (
	"testing"

	"github.com/aftershock-sre/aftershock/infra/lab/labtest"
)

// agentBinary is the real aftershock-agent, built once for the lab tests.
var agentBinary string

func TestMain(m *testing.M) { labtest.Main(m, &agentBinary) }
