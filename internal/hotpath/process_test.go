package hotpath_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The environment through which a benchmark makes its test binary a server
// instead of running tests.
const (
	serverEnv   = "HOOKKIT_HOTPATH_SERVER"   // the server's kind (newServer)
	databaseEnv = "HOOKKIT_HOTPATH_DATABASE" // a PostgreSQL URL, or sqlite:<path>
	// cpuProfileEnv and memProfileEnv name a directory where the server
	// writes a CPU profile of the measured deliveries
	// (cpu-<kind>.pprof), or allocation profiles sampling every
	// allocation (allocs-<kind>-start.pprof, allocs-<kind>-stop.pprof:
	// go tool pprof -base the first the second shows the measured
	// deliveries' alone). The two are apart because recording every
	// allocation costs CPU.
	cpuProfileEnv = "HOOKKIT_HOTPATH_CPUPROFILE"
	memProfileEnv = "HOOKKIT_HOTPATH_MEMPROFILE"
)

func TestMain(m *testing.M) {
	if kind := os.Getenv(serverEnv); kind != "" {
		os.Exit(serve(kind, os.Getenv(databaseEnv)))
	}
	os.Exit(m.Run())
}

// serve runs a server of kind on a free loopback port and answers the
// benchmark's commands on its standard input, one a line, until it closes:
// "start" begins a measurement, "stop" ends it and prints the CPU time and
// the allocations between the two, and how many deliveries the server
// has handled in all (handler runs, or jobs in the database).
func serve(kind, database string) int {
	memDir := os.Getenv(memProfileEnv)
	if memDir != "" {
		runtime.MemProfileRate = 1
	}
	s, err := newServer(kind, database)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: s.handler}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Printf("listening on %s\n", ln.Addr())

	var (
		cpu0     time.Duration
		db0      time.Duration
		mem0     runtime.MemStats
		cpuDir   = os.Getenv(cpuProfileEnv)
		profFile *os.File
	)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "start":
			if memDir != "" {
				if err := writeProfile(filepath.Join(memDir, "allocs-"+kind+"-start.pprof")); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
			if cpuDir != "" {
				profFile, err = os.Create(filepath.Join(cpuDir, "cpu-"+kind+".pprof"))
				if err == nil {
					err = pprof.StartCPUProfile(profFile)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
			if db0, err = s.dbCPU(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			runtime.ReadMemStats(&mem0)
			cpu0 = processCPU()
			fmt.Println("started")
		case "stop":
			cpu := processCPU() - cpu0
			var mem runtime.MemStats
			runtime.ReadMemStats(&mem)
			if profFile != nil {
				pprof.StopCPUProfile()
				profFile.Close()
			}
			if memDir != "" {
				if err := writeProfile(filepath.Join(memDir, "allocs-"+kind+"-stop.pprof")); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
			db, err := s.dbCPU()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			handled, err := s.handled()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Printf("stats %d %d %d %d %d\n", cpu.Nanoseconds(), mem.Mallocs-mem0.Mallocs, mem.TotalAlloc-mem0.TotalAlloc, handled, (db - db0).Nanoseconds())
		}
	}
	return 0
}

// dbCPU is the database's CPU time for s, or 0.
func (s *server) dbCPU() (time.Duration, error) {
	if s.databaseCPU == nil {
		return 0, nil
	}
	return s.databaseCPU()
}

// processCPU is the process's own CPU time, user and system, every thread.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile is as of the last GC
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serverProcess is a server the benchmark started: this test binary, with
// serverEnv set.
type serverProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	addr  string
}

// startServer starts a server of kind on database and waits until it
// listens. It is stopped when the benchmark ends.
func startServer(tb testing.TB, kind, database string) *serverProcess {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serverEnv+"="+kind, databaseEnv+"="+database)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			p.stdin.Close()
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill() // the process this benchmark started
				<-done
			}
		}
	})
	line, err := p.out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		tb.Fatalf("the %s server did not start: %q %v", kind, line, err)
	}
	p.addr = addr
	return p
}

// command sends cmd and returns the server's one-line answer.
func (p *serverProcess) command(tb testing.TB, cmd string) string {
	tb.Helper()
	if _, err := io.WriteString(p.stdin, cmd+"\n"); err != nil {
		tb.Fatal(err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		tb.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimSpace(line)
}

// serverStats is what a server measured between start and stop.
type serverStats struct {
	cpu     time.Duration
	dbCPU   time.Duration // PostgreSQL's backends', on PostgreSQL
	mallocs uint64
	bytes   uint64
	handled int64
}

func (p *serverProcess) stop(tb testing.TB) serverStats {
	tb.Helper()
	var s serverStats
	var cpu, db int64
	line := p.command(tb, "stop")
	if _, err := fmt.Sscanf(line, "stats %d %d %d %d %d", &cpu, &s.mallocs, &s.bytes, &s.handled, &db); err != nil {
		tb.Fatalf("stop: %q: %v", line, err)
	}
	s.cpu, s.dbCPU = time.Duration(cpu), time.Duration(db)
	return s
}

// exit closes the server's input and waits for it to exit.
func (p *serverProcess) exit(tb testing.TB) {
	tb.Helper()
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		tb.Fatalf("server: %v", err)
	}
}

var ctx = context.Background()
