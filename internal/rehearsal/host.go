package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// A rehearsal is one run: where it works, the environments its go
// commands run in, and what took how long and what failed.
type rehearsal struct {
	root, work, version string
	rootPath            string // the root module's path
	short               bool
	// hostEnv is a host's: no workspace, the proxy then this machine's
	// module cache as file proxies, a module cache of its own.
	hostEnv []string
	// cacheEnv is go install's and go run's with @version, which read no
	// go.sum: hookkit's proxy and the module cache, which the hosts filled
	// and verified.
	cacheEnv []string
	// sums are the lines of the repository's go.sum files, but for
	// hookkit's own modules (which have none yet).
	sums     map[string]bool
	timings  []timing
	failed   []string
	skipped  int // test-only modules, not published
	nPublic  int
	buildLen map[string]int // module path → its host's build list length, the host included
}

// timing is how long one named step took.
type timing struct {
	name string
	took time.Duration
}

func newRehearsal(ctx context.Context, root, work string, mods []*repoModule, version string, short bool) (*rehearsal, error) {
	machineCache, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	r := &rehearsal{root: root, work: work, version: version, rootPath: mods[0].Path, short: short, buildLen: map[string]int{}}
	if r.sums, err = r.repositorySums(); err != nil {
		return nil, err
	}
	proxies := "file://" + filepath.ToSlash(filepath.Join(work, "proxy")) +
		",file://" + filepath.ToSlash(filepath.Join(strings.TrimSpace(string(machineCache)), "cache", "download"))
	common := []string{
		"GOWORK=off",
		"GOMODCACHE=" + filepath.Join(work, "modcache"),
		"GOBIN=" + filepath.Join(work, "bin"),
		"GOTOOLCHAIN=local",
		"GONOPROXY=", "GOPRIVATE=", "GOINSECURE=",
	}
	// -modcacherw: the module cache is removed at the end. -trimpath:
	// the module cache is new each run; without it every compiled
	// package would name its directory and no run would reuse the last
	// one's build cache.
	r.hostEnv = append(slices.Clone(common), "GOPROXY="+proxies, "GONOSUMDB="+r.rootPath, "GOFLAGS=-modcacherw -mod=mod -trimpath")
	// With @version, the go command asks the proxy for the module's
	// latest version (for a deprecation notice): the hookkit proxy alone
	// answers, and any other module must be in the module cache already.
	r.cacheEnv = append(slices.Clone(common), "GOPROXY=file://"+filepath.ToSlash(filepath.Join(work, "proxy")), "GOSUMDB=off",
		"GOFLAGS=-modcacherw -trimpath")
	fmt.Printf("release rehearsal of %s; a host's go commands run with\n  %s\n", version, strings.Join(r.hostEnv, "\n  "))
	return r, nil
}

// repositorySums reads every tracked go.sum and go.work.sum.
func (r *rehearsal) repositorySums() (map[string]bool, error) {
	files, err := trackedFiles(r.root)
	if err != nil {
		return nil, err
	}
	sums := map[string]bool{}
	for _, f := range files {
		if base := path.Base(f); base != "go.sum" && base != "go.work.sum" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(string(data)) {
			if line = strings.TrimSpace(line); line != "" && !r.ours(line) {
				sums[line] = true
			}
		}
	}
	return sums, nil
}

// ours reports whether a go.sum line is about one of hookkit's modules.
func (r *rehearsal) ours(sumLine string) bool {
	mod, _, _ := strings.Cut(sumLine, " ")
	return mod == r.rootPath || strings.HasPrefix(mod, r.rootPath+"/")
}

// publishAll publishes every public module into the proxy.
func (r *rehearsal) publishAll(mods []*repoModule) error {
	began := time.Now()
	at := time.Now()
	if out, err := exec.Command("git", "-C", r.root, "log", "-1", "--format=%cI").Output(); err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(out))); err == nil {
			at = t
		}
	}
	license := ""
	if slices.Contains(mods[0].Files, "LICENSE") {
		license = filepath.Join(r.root, "LICENSE")
	}
	fmt.Printf("\n==> publishing every public module at %s into %s\n", r.version, filepath.Join(r.work, "proxy"))
	for _, m := range mods {
		if !m.Public() {
			r.skipped++
			fmt.Printf("    %-50s test-only: not tagged, not published\n", m.Path)
			continue
		}
		omitted, err := publish(filepath.Join(r.work, "proxy"), r.root, m, r.version, at, license)
		if err != nil {
			return fmt.Errorf("publishing %s: %w", m.Path, err)
		}
		r.nPublic++
		fmt.Printf("    %-50s tag %-32s %3d files, %d packages, %d commands\n", m.Path, m.Tag(r.version), len(m.Files)-len(omitted), len(m.Packages), len(m.Commands))
		for _, o := range omitted {
			fmt.Printf("      left out of the zip: %s (%v)\n", o.Path, o.Err)
		}
	}
	r.timings = append(r.timings, timing{"publish", time.Since(began)})
	return nil
}

// host plays a new host of m (see newHost and buildHost), then runs the
// tests of every package of m from the module cache and checks the
// host's go.sum. A failed step is recorded and ends this host.
func (r *rehearsal) host(ctx context.Context, m *repoModule) {
	began := time.Now()
	dir, err := r.newHost(m)
	if err == nil {
		err = r.buildHost(ctx, dir, m)
	}
	if err == nil {
		err = r.testModule(ctx, dir, m)
	}
	if err == nil {
		err = r.checkSums(dir)
	}
	if err != nil {
		r.failed = append(r.failed, fmt.Sprintf("host of %s: %v", m.Path, err))
	}
	r.timings = append(r.timings, timing{m.Path, time.Since(began)})
}

// newHost writes a new host module for m: a go.mod at m's go version, a
// go.sum holding the repository's checksums, and a main.go that imports
// every public package of m. It returns the host's directory.
func (r *rehearsal) newHost(m *repoModule) (string, error) {
	name := "root"
	if m.Dir != "" {
		name = strings.ReplaceAll(m.Dir, "/", "-")
	}
	dir := filepath.Join(r.work, "hosts", name)
	fmt.Printf("\n==> a new host of %s@%s (%s)\n", m.Path, r.version, dir)
	var imports strings.Builder
	for _, p := range m.Packages {
		fmt.Fprintf(&imports, "\t_ %q\n", p)
	}
	mainGo := "package main\n\nimport (\n" + imports.String() + ")\n\nfunc main() {}\n"
	if len(m.Packages) == 0 {
		mainGo = "package main\n\nfunc main() {}\n" // a module of commands only: see commands
	}
	return dir, writeFiles(dir, map[string]string{
		"go.mod":  "module example.com/rehearsal/" + name + "host\n\ngo " + m.GoVersion + "\n",
		"go.sum":  strings.Join(slices.Sorted(maps.Keys(r.sums)), "\n") + "\n",
		"main.go": mainGo,
	})
}

// buildHost does what a host does to add m: go get, go mod tidy (unless
// it imports nothing of m), build and vet. It prints the length of the
// host's build list.
func (r *rehearsal) buildHost(ctx context.Context, dir string, m *repoModule) error {
	steps := [][]string{{"get", m.Path + "@" + r.version}}
	if len(m.Packages) > 0 {
		steps = append(steps, []string{"mod", "tidy"})
	}
	steps = append(steps, []string{"build", "./..."}, []string{"vet", "./..."})
	for _, args := range steps {
		if _, err := r.goCmd(ctx, dir, r.hostEnv, false, args...); err != nil {
			return err
		}
	}
	if len(m.Packages) == 0 {
		return nil
	}
	all, err := r.goCmd(ctx, dir, r.hostEnv, false, "list", "-m", "all")
	if err != nil {
		return err
	}
	r.buildLen[m.Path] = len(strings.Split(strings.TrimSpace(all), "\n"))
	fmt.Printf("    its build list: %d modules, itself included (go list -m all)\n", r.buildLen[m.Path])
	return nil
}

// testModule runs, from the host, the tests of every package of m (its
// internal and main packages too), which are in the module cache. go test
// vets what it tests (its default vet checks), and go vet work vets the
// same files in the workspace.
func (r *rehearsal) testModule(ctx context.Context, dir string, m *repoModule) error {
	list, err := r.goCmd(ctx, dir, r.hostEnv, false, "list", "-f", `{{if eq .Module.Path "`+m.Path+`"}}{{.ImportPath}}{{end}}`, m.Path+"/...")
	if err != nil {
		return err
	}
	test := []string{"test"}
	if r.short {
		test = append(test, "-short")
	}
	_, err = r.goCmd(ctx, dir, r.hostEnv, true, append(test, strings.Fields(list)...)...)
	return err
}

// checkSums fails if the host's go.sum holds a line for a module other
// than hookkit's that no go.sum of the repository holds: a checksum that
// nothing verified.
func (r *rehearsal) checkSums(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		return err
	}
	var unverified []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !r.ours(line) && !r.sums[line] {
			unverified = append(unverified, line)
		}
	}
	if len(unverified) > 0 {
		return fmt.Errorf("go.sum gained checksums no go.sum of the repository holds (run bash .ci/tidy):\n    %s", strings.Join(unverified, "\n    "))
	}
	return nil
}

// commands installs every command of a public module with go install
// <command>@<version>, and runs every program of the examples module with
// go run <program>@<version> -demo, which must exit 0.
func (r *rehearsal) commands(ctx context.Context, mods []*repoModule) {
	run := filepath.Join(r.work, "run") // outside any module
	if err := os.MkdirAll(run, 0o755); err != nil {
		r.failed = append(r.failed, err.Error())
		return
	}
	for _, m := range mods {
		if !m.Public() {
			continue
		}
		for _, c := range m.Commands {
			began := time.Now()
			if m.Dir == "examples" || strings.HasPrefix(m.Dir, "examples/") {
				step := fmt.Sprintf("go run %s@%s -demo", c, r.version)
				fmt.Printf("\n==> %s\n", step)
				if _, err := r.goCmd(ctx, run, r.cacheEnv, true, "run", c+"@"+r.version, "-demo"); err != nil {
					r.failed = append(r.failed, fmt.Sprintf("%s: %v", step, err))
				}
				r.timings = append(r.timings, timing{step, time.Since(began)})
				continue
			}
			step := fmt.Sprintf("go install %s@%s", c, r.version)
			fmt.Printf("\n==> %s\n", step)
			if _, err := r.goCmd(ctx, run, r.cacheEnv, false, "install", c+"@"+r.version); err != nil {
				r.failed = append(r.failed, fmt.Sprintf("%s: %v", step, err))
			} else if _, err := os.Stat(filepath.Join(r.work, "bin", path.Base(c)+exeSuffix())); err != nil {
				r.failed = append(r.failed, fmt.Sprintf("%s: no binary: %v", step, err))
			}
			r.timings = append(r.timings, timing{step, time.Since(began)})
		}
	}
}

// goCmd runs the go command in dir with env added to this process's, and
// returns its standard output. It prints the command first; with show it
// streams the output as it comes, else it prints it only if the command
// fails. The error names the command.
func (r *rehearsal) goCmd(ctx context.Context, dir string, env []string, show bool, args ...string) (string, error) {
	began := time.Now()
	line := "go " + strings.Join(args, " ")
	if len(line) > 160 {
		line = line[:157] + "..."
	}
	fmt.Println("  $ " + line)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	ownProcessGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if show {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, os.Stdout), io.MultiWriter(&stderr, os.Stderr)
	}
	err := cmd.Run()
	if err != nil {
		if !show {
			os.Stdout.Write(stdout.Bytes())
			os.Stderr.Write(stderr.Bytes())
		}
		return "", fmt.Errorf("%s (in %s): %w", line, dir, err)
	}
	if took := time.Since(began); took > time.Second {
		fmt.Printf("    %s\n", took.Round(100*time.Millisecond))
	}
	return stdout.String(), nil
}

// summary prints how long each step took.
func (r *rehearsal) summary(total time.Duration) {
	fmt.Printf("\n==> release rehearsal of %s: %d modules published, %d test-only modules not\n", r.version, r.nPublic, r.skipped)
	for _, t := range r.timings {
		extra := ""
		if n, ok := r.buildLen[t.name]; ok {
			extra = fmt.Sprintf("  (a host's build list: %d modules)", n)
		}
		fmt.Printf("  %8s  %s%s\n", t.took.Round(100*time.Millisecond), t.name, extra)
	}
	fmt.Printf("  %8s  total\n", total.Round(100*time.Millisecond))
}

// writeFiles creates dir and writes files into it.
func writeFiles(dir string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// exeSuffix is the suffix go install gives a binary here.
func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
