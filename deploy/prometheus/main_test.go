package prometheus_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the live tests start a lab, a daemon and
// a Prometheus process, and stop them all before they return.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
