//go:build !unix

package standin

import "os/exec"

func ownGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, _ bool) {
	// Without process groups the server itself is all we can stop.
	_ = cmd.Process.Kill()
}
