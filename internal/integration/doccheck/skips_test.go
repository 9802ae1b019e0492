package doccheck

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// skipSummary is the line a go test run ends with when tests skipped for
// want of a service (internal/servicetest): how many, and why.
var skipSummary = regexp.MustCompile(`^hookkit: (\d+) tests? skipped — (.*)$`)

// TestSkippedTestsAreCounted runs go test, as a developer would, on two
// packages of two modules whose tests need PostgreSQL or Redis, with the
// services' URLs pointing at a closed port: the run ends with one line
// counting the skipped tests of both, by cause, though go test shows
// nothing of a passing package; and the same command again runs them again
// rather than passing, silently, from the cache. README.md promises it.
func TestSkippedTestsAreCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test twice")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the summary is written through /proc, on Linux")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKKIT_") && !strings.HasPrefix(kv, "GOFLAGS=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"HOOKKIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:"+closed+"/test?sslmode=disable",
		"HOOKKIT_TEST_REDIS_URL=redis://127.0.0.1:"+closed+"/0")
	for run := range 2 {
		cmd := exec.Command("go", "test", "./idempotency/pgxstore", "./idempotency/redisstore")
		cmd.Dir = root
		cmd.Env = env
		out, err := cmd.CombinedOutput() // waits for the summary's writer too: it holds the output open
		if err != nil {
			t.Fatalf("run %d: go test: %v\n%s", run+1, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		last := lines[len(lines)-1]
		m := skipSummary.FindStringSubmatch(last)
		if m == nil {
			t.Fatalf("run %d: the output does not end with the skip summary:\n%s", run+1, out)
		}
		if n, _ := strconv.Atoi(m[1]); n < 2 {
			t.Errorf("run %d: %s tests skipped, want those of both packages", run+1, m[1])
		}
		for _, cause := range []string{"PostgreSQL does not answer", "Redis at 127.0.0.1:" + closed + " does not answer"} {
			if !strings.Contains(m[2], cause) {
				t.Errorf("run %d: the summary does not name %q: %s", run+1, cause, last)
			}
		}
		if strings.Contains(string(out), "(cached)") {
			t.Errorf("run %d: a package whose tests skipped came from the cache:\n%s", run+1, out)
		}
		if strings.Count(string(out), "hookkit: ") != 1 {
			t.Errorf("run %d: not one summary line:\n%s", run+1, out)
		}
	}
}
