//go:build unix

package mcp

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts a stdio server in a process group of its own, so
// that a terminal's ^C reaches the gateway (which drains calls in flight,
// then stops the server) and not the server directly.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
