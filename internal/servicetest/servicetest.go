// Package servicetest is how hookkit's own tests reach the real Redis and
// PostgreSQL of the development and CI machines: the URLs that name them
// (the environment, or the well-known local services), skipping or failing
// when they do not answer, counting round trips, and table names no other
// test uses. It is internal: test plumbing, not API.
//
// This file is the source of a copy in every module whose tests use it
// (.ci/shared writes them; a test in internal/integration fails when one
// differs): a module never imports another module's internal packages.
//
// # Skipped tests are counted
//
// A test whose service does not answer is skipped (or fails, under
// HOOKKIT_REQUIRE_SERVICES=1, as in CI). go test shows nothing of a
// passing package's output, so a skip would go unseen: instead, on Linux,
// the first skip of a go test run starts a reporter that waits for the go
// command to finish and then writes one line to its standard error,
// naming how many tests were skipped and why. A package with a skipped
// test is not cached either (the next run tries the service again).
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The environment variables through which tests reach real services.
const (
	RedisURLEnv        = "HOOKKIT_TEST_REDIS_URL"
	PostgresURLEnv     = "HOOKKIT_TEST_POSTGRES_URL"
	RequireServicesEnv = "HOOKKIT_REQUIRE_SERVICES"
)

// localURLs are the services of the development and CI machines (README),
// used when the variable naming a service is unset.
var localURLs = map[string]string{
	PostgresURLEnv: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	RedisURLEnv:    "redis://127.0.0.1:6379/0",
}

// ServiceURL returns the URL in the environment variable env, or, when it
// is unset, the local service's. A test that finds it does not answer
// calls Unreachable.
func ServiceURL(t testing.TB, env string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	if u, ok := localURLs[env]; ok {
		return u
	}
	Unreachable(t, env+" is not set")
	return ""
}

// Unreachable skips the test with reason, or fails it when services are
// required. A skip is counted in the run's summary line.
func Unreachable(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires the service", reason, RequireServicesEnv)
	}
	noteSkip(t.Name(), reason)
	t.Skipf("%s; start it, or set %s or %s to one that answers", reason, PostgresURLEnv, RedisURLEnv)
}

// CountWrites wraps c so that every Write adds one to writes. Database and
// Redis clients write a request whole and then wait for the reply, so the
// count is the number of round trips: wrap the connections a client dials
// to show how many an operation takes.
func CountWrites(c net.Conn, writes *atomic.Int64) net.Conn {
	return countingConn{Conn: c, writes: writes}
}

// CountingDial is a client's dial function (pgx's DialFunc, go-redis's
// Dialer) whose connections count their writes into writes.
func CountingDial(writes *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return CountWrites(c, writes), nil
	}
}

// RandomName returns prefix and 12 random hex digits: a table or schema
// name no other test uses.
func RandomName(prefix string) string {
	var raw [6]byte
	rand.Read(raw[:])
	return prefix + hex.EncodeToString(raw[:])
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// The skip summary. Every test binary of one go test run (the go command's
// children) appends its skips to a file of its own in a directory named
// after the go command's process; the binary that creates the directory
// starts the reporter, a copy of itself that waits for the go command to
// exit and then writes the summary to the go command's standard error
// (which it opened while the go command lived) and removes the directory.
// The go command does not cache a package's result whose test changed
// directory into a directory that is gone by the next run (it hashes
// every directory a test changes into): each skipping binary does so once
// with the run's directory, so a skipped test runs again next time rather
// than passing, silently, from the cache.

// reportEnv names the directory, the go command's process and its start
// time, for the reporter.
const reportEnv = "HOOKKIT_SERVICETEST_REPORT"

func init() {
	if spec := os.Getenv(reportEnv); spec != "" {
		report(spec)
		os.Exit(0)
	}
}

var (
	skipMu   sync.Mutex
	skipFile *os.File // this binary's record in the run's directory; nil outside go test on Linux
	skipOnce sync.Once
)

// noteSkip records that test was skipped for reason.
func noteSkip(test, reason string) {
	skipOnce.Do(joinRun)
	skipMu.Lock()
	defer skipMu.Unlock()
	if skipFile == nil {
		return
	}
	fmt.Fprintf(skipFile, "%s\t%s\n", test, strings.ReplaceAll(reason, "\n", " "))
}

// joinRun finds the run's directory (creating it and starting the
// reporter when this binary is the first to skip), opens this binary's
// file in it, and keeps this binary's result out of the go command's
// cache. Outside go test on Linux it does nothing.
func joinRun() {
	goPID := os.Getppid()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", goPID))
	if err != nil || filepath.Base(exe) != "go" {
		return
	}
	start, ok := startTime(goPID)
	if !ok {
		return
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("hookkit-skips-%d-%s", goPID, start))
	if err := os.Mkdir(dir, 0o700); err == nil {
		if !startReporter(dir, goPID, start) {
			os.Remove(dir)
			return
		}
	} else if !os.IsExist(err) {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	skipMu.Lock()
	skipFile = f
	skipMu.Unlock()
	if wd, err := os.Getwd(); err == nil && os.Chdir(dir) == nil {
		os.Chdir(wd)
	}
}

// startTime returns process pid's start time (field 22 of
// /proc/pid/stat): with the pid, it names one go command however pids are
// reused.
func startTime(pid int) (string, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", false
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return "", false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return "", false
	}
	return fields[19], true
}

// startReporter starts the reporter of the run whose directory is dir.
func startReporter(dir string, goPID int, start string) bool {
	exe, err := os.Executable()
	if err != nil {
		return false
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s %s", reportEnv, goPID, start, dir))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this binary, not tied to its output
	if err := cmd.Start(); err != nil {
		return false
	}
	cmd.Process.Release()
	return true
}

// report is the reporter: it waits for the go command to exit, then writes
// the summary of the skips recorded in the run's directory to the go
// command's standard error, and removes the directory.
func report(spec string) {
	parts := strings.SplitN(spec, " ", 3)
	if len(parts) != 3 {
		return
	}
	goPID, err := strconv.Atoi(parts[0])
	if err != nil {
		return
	}
	start, dir := parts[1], parts[2]
	defer os.RemoveAll(dir)
	out, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", goPID), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer out.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s, ok := startTime(goPID); !ok || s != start {
			break
		}
		<-tick.C
	}
	if line := summary(dir); line != "" {
		fmt.Fprintln(out, line)
	}
}

// summary is the line naming how many tests the files in dir record as
// skipped, by reason.
func summary(dir string) string {
	files, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	tests := map[string]bool{}
	count := map[string]int{} // by cause: a reason's text before its first ": "
	detail := map[string]string{}
	var causes []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			test, reason, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
			if !ok || tests[f.Name()+" "+test] {
				continue
			}
			tests[f.Name()+" "+test] = true
			cause, rest, _ := strings.Cut(reason, ": ")
			if count[cause] == 0 {
				causes = append(causes, cause)
				if i := strings.LastIndex(rest, ": "); i >= 0 {
					rest = rest[i+2:]
				}
				detail[cause] = rest
			}
			count[cause]++
		}
	}
	if len(tests) == 0 {
		return ""
	}
	slices.SortFunc(causes, func(a, b string) int { return count[b] - count[a] })
	var why []string
	for _, c := range causes {
		w := fmt.Sprintf("%d: %s", count[c], c)
		if detail[c] != "" {
			w += " (" + detail[c] + ")"
		}
		why = append(why, w)
	}
	noun := "tests"
	if len(tests) == 1 {
		noun = "test"
	}
	return fmt.Sprintf("hookkit: %d %s skipped — %s — set %s and %s to services that answer; %s=1 fails instead of skipping",
		len(tests), noun, strings.Join(why, "; "), PostgresURLEnv, RedisURLEnv, RequireServicesEnv)
}
