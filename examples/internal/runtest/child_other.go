//go:build !linux

package runtest

import (
	"os"
	"os/exec"
)

// setProcAttrs keeps exec's defaults outside Linux: cancellation kills the
// child itself. The Node scripts still exit when their stdin pipe closes.
func setProcAttrs(*exec.Cmd) {}

// terminate asks the child to stop (os.Interrupt), or kills it where
// interrupts cannot be sent (Windows).
func terminate(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.Process.Signal(os.Interrupt) != nil {
		cmd.Process.Kill()
	}
}
