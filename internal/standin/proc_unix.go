//go:build unix

package standin

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the server in a process group of its own, so stopping it
// also stops any child it spawned (uvicorn and werkzeug may fork).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	// The group may already be gone; nothing to do then.
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
