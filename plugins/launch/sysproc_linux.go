package launch

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the plugin in a process group of its own, so that a
// terminal's ^C reaches the Host alone (the Host then stops its plugins in
// order), and has the kernel kill it should the Host die without stopping
// it. (Pdeathsig follows the thread that started the child; the Go runtime
// ends a thread only when a goroutine that locked it exits still locked,
// which nothing in the Host does.)
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
