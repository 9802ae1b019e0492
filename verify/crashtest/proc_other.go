//go:build !unix

package crashtest

import (
	"os/exec"
	"time"
)

// ownGroup does nothing where there are no Unix process groups: the kit
// kills only the process it started, so start the server from a built
// binary (Build), not with "go run".
func ownGroup(*exec.Cmd) {}

// killGroup kills cmd's process at once, as the system allows: no
// deferred function or shutdown hook of the host's runs.
func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }

// waitGroupGone has nothing to wait for: the kit started one process, and
// killGroup's caller has reaped it.
func waitGroupGone(*exec.Cmd, time.Duration) {}
