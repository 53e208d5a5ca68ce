//go:build unix

package hook

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the hook in its own process group and makes the
// context's cancellation kill the whole group, so that children a script
// started do not outlive its timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
