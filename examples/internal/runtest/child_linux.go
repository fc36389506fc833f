package runtest

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in its own process group, so that cleanup
// reaches whatever it spawned, and has the kernel kill it if the test binary
// dies first (a -timeout panic runs no t.Cleanup). Cancellation kills the
// whole group.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// terminate asks the child's process group to stop (SIGTERM).
func terminate(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}
