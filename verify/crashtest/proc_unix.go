//go:build unix

package crashtest

import (
	"os/exec"
	"syscall"
)

// ownGroup makes cmd the leader of a process group of its own, so that a
// kill reaches what it starts too ("go run" builds the server and starts
// it as a child of its own), and only that.
func ownGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Setsid {
		return // a session leader leads its own group already
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0 // a new group, whose ID is cmd's process ID; never another's
}

// killGroup sends SIGKILL to cmd's process group: no deferred function,
// no shutdown hook, no buffered write of the host's runs.
func killGroup(cmd *exec.Cmd) {
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		cmd.Process.Kill()
	}
}
