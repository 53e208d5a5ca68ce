//go:build !unix

package hook

import "os/exec"

// setProcessGroup: without Unix process groups the context's cancellation
// kills the hook process itself (exec.CommandContext's default).
func setProcessGroup(*exec.Cmd) {}
