package crashtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build compiles the main package pkg (an import path, or a directory
// such as "./cmd/server", relative to the test's package) with the go
// command into a directory the test removes, and returns the binary's
// path, for Config.Command. A built binary starts faster than "go run"
// at every restart, and is the process the kill reaches.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("crashtest: go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}
