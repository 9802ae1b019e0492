//go:build unix

package crashtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
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

// waitGroupGone waits, up to limit, until no process of the group that
// cmd led runs any more: its leader has been reaped, but a child it
// started ("go run"'s server) dies of the group's SIGKILL on its own
// time, and holds the server's port until it has. A zombie (dead, not yet
// reaped by its new parent) does not run.
func waitGroupGone(cmd *exec.Cmd, limit time.Duration) {
	pgid := cmd.Process.Pid
	for deadline := time.Now().Add(limit); groupRuns(pgid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// groupRuns reports whether a process of group pgid runs.
func groupRuns(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if runtime.GOOS != "linux" {
		return true // as far as this system tells
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // it ended meanwhile
		}
		// "pid (comm) S ppid pgrp ...": the fields after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) >= 3 && string(f[2]) == strconv.Itoa(pgid) && f[0][0] != 'Z' && f[0][0] != 'X' {
			return true
		}
	}
	return false
}
