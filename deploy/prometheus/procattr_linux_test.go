package prometheus_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill the child if the test process dies first (a test binary killed
// by -timeout runs no cleanup): no Prometheus is left running behind a crashed test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
