package doccheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostPins are versions a host may have pinned long before it adds
// hookkit: older pgx, River (whose 0.x minors break its API), OpenTelemetry,
// go-redis and Prometheus's client. Adding hookkit's core must move none of
// them.
var hostPins = map[string]string{
	"github.com/jackc/pgx/v5":             "v5.7.4",
	"github.com/riverqueue/river":         "v0.20.0",
	"go.opentelemetry.io/otel":            "v1.20.0",
	"github.com/redis/go-redis/v9":        "v9.0.5",
	"github.com/prometheus/client_golang": "v1.17.0",
}

// coreImports are the core's packages a host imports.
const coreImports = `
	_ "github.com/hookkit/hookkit/dispatch"
	_ "github.com/hookkit/hookkit/events"
	_ "github.com/hookkit/hookkit/idempotency"
	_ "github.com/hookkit/hookkit/verify"
`

// A host that imports hookkit resolves it on its own, outside this
// workspace (GOWORK=off; hookkit's published versions are stood in for by
// this checkout, through replace directives in the host only), as a host
// would: its pins of pgx, River, OTel, go-redis and client_golang are
// unchanged by go mod tidy; a host of the core alone finds nothing in its
// build list but stripe-go and what stripe-go's own go.mod brings; a host
// of each nested module finds no hookkit module its imports do not reach,
// and a PostgreSQL River host no SQLite and no pgxtx. Each logs how many
// modules its build list holds. It fetches the pinned versions through the
// module proxy.
func TestHostPaysOnlyForWhatItImports(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves host modules through the module proxy")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("pinned host keeps its pins", func(t *testing.T) {
		dir := t.TempDir()
		var require strings.Builder
		for path, version := range hostPins {
			require.WriteString("\t" + path + " " + version + "\n")
		}
		write(t, filepath.Join(dir, "go.mod"), "module example.com/pinnedhost\n\ngo 1.26.0\n\nrequire (\n"+require.String()+
			"\tgithub.com/hookkit/hookkit v0.1.0\n)\n\nreplace github.com/hookkit/hookkit v0.1.0 => "+root+"\n")
		write(t, filepath.Join(dir, "main.go"), `package main

import (`+coreImports+`
	_ "github.com/jackc/pgx/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/riverqueue/river"
	_ "go.opentelemetry.io/otel"
)

func main() {}
`)
		goCmd(t, dir, "mod", "tidy")
		for path, want := range hostPins {
			if got := strings.TrimSpace(goCmd(t, dir, "list", "-m", "-f", "{{.Version}}", path)); got != want {
				t.Errorf("%s: pinned %s, now %s: hookkit moved a host's pin", path, want, got)
			}
		}
	})

	mods := workspaceModules(t, root)
	replaces := hookkitReplaces(mods)

	t.Run("core-only host", func(t *testing.T) {
		core := mods[0]
		all := hostBuildList(t, core, publicPackages(t, core), replaces)
		for _, heavy := range []string{"github.com/riverqueue/", "riverqueue.com/", "go.opentelemetry.io/", "github.com/redis/",
			"github.com/prometheus/", "github.com/jackc/pgx", "modernc.org/"} {
			for path := range all {
				if strings.HasPrefix(path, heavy) {
					t.Errorf("a host of the core alone has %s in its build list", path)
				}
			}
		}
		// Nothing but stripe-go, at the version the core requires, and
		// what stripe-go's own go.mod brings: the build list of a module
		// that requires stripe-go alone.
		var stripe string
		for _, r := range readGoMod(t, core.dir).Require {
			if r.Path == "github.com/stripe/stripe-go/v76" {
				stripe = r.Version
			}
		}
		if stripe == "" {
			t.Fatal("the core's go.mod does not require stripe-go v76")
		}
		dir := t.TempDir()
		write(t, filepath.Join(dir, "go.mod"), "module example.com/stripeonly\n\ngo 1.26.0\n\nrequire github.com/stripe/stripe-go/v76 "+stripe+"\n")
		copyFile(t, filepath.Join(core.dir, "go.sum"), filepath.Join(dir, "go.sum"))
		stripeOnly := moduleVersions(t, goCmd(t, dir, "list", "-m", "all"))
		for path, version := range all {
			if path == "example.com/host" || path == core.path {
				continue
			}
			if v, ok := stripeOnly[path]; !ok || v != version {
				t.Errorf("a host of the core has %s %s in its build list, beyond stripe-go's own (%s)", path, version, v)
			}
		}
	})

	// A host of each module hosts import, importing every public package of
	// it (a PostgreSQL River host also imports riverpgxv5): its build list
	// holds no hookkit module its imports do not reach, and, for River on
	// PostgreSQL, no SQLite and no pgxtx.
	for _, m := range mods[1:] {
		pkgs := publicPackages(t, m)
		if len(pkgs) == 0 {
			continue
		}
		rel, _ := filepath.Rel(root, m.dir)
		t.Run(rel, func(t *testing.T) {
			if m.path == "github.com/hookkit/hookkit/dispatch/riverqueue" {
				pkgs = append(pkgs, "github.com/riverqueue/river/riverdriver/riverpgxv5")
			}
			all := hostBuildList(t, m, pkgs, replaces)
			reached := importedModules(t, m, pkgs, replaces)
			for path := range all {
				if strings.HasPrefix(path, "github.com/hookkit/hookkit") && !reached[path] {
					t.Errorf("a host of %s has %s in its build list, which nothing it imports needs", rel, path)
				}
			}
			if m.path == "github.com/hookkit/hookkit/dispatch/riverqueue" {
				for _, never := range []string{"modernc.org/sqlite", "github.com/riverqueue/river/riverdriver/riversqlite",
					"github.com/hookkit/hookkit/dispatch/pgxtx"} {
					if _, ok := all[never]; ok {
						t.Errorf("a PostgreSQL River host has %s in its build list", never)
					}
				}
			}
		})
	}
}

// publicPackages returns the import paths of m's packages a host can
// import: not internal, not a command, not a test-only module's doc.go.
func publicPackages(t *testing.T, m module) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Name}} {{join .GoFiles \" \"}}", "./...")
	cmd.Dir = m.dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v", m.dir, err)
	}
	var pkgs []string
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] == "main" || strings.Contains(f[0], "/internal/") ||
			strings.HasSuffix(f[0], "/internal") || (len(f) == 3 && f[2] == "doc.go") {
			continue
		}
		pkgs = append(pkgs, f[0])
	}
	return pkgs
}

// hostBuildList makes a host module that requires m (and every hookkit
// module, from this checkout, through replace directives in the host
// only) and imports pkgs, tidies it outside the workspace and returns its
// build list (go list -m all) by module path.
func hostBuildList(t *testing.T, m module, pkgs []string, replaces string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/host\n\ngo 1.26.0\n\nrequire "+m.path+" v0.1.0\n\n"+replaces)
	copyFile(t, filepath.Join(m.dir, "go.sum"), filepath.Join(dir, "go.sum"))
	var imports strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&imports, "\t_ %q\n", p)
	}
	write(t, filepath.Join(dir, "main.go"), "package main\n\nimport (\n"+imports.String()+")\n\nfunc main() {}\n")
	goCmd(t, dir, "mod", "tidy")
	all := moduleVersions(t, goCmd(t, dir, "list", "-m", "all"))
	t.Logf("a host of %s importing %d packages: %d modules in its build list", m.path, len(pkgs), len(all))
	goCmd(t, dir, "build", "./...")
	return all
}

// importedModules returns the modules that provide the packages a host of
// m importing pkgs compiles: the packages and their dependencies.
func importedModules(t *testing.T, m module, pkgs []string, replaces string) map[string]bool {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.com/host\n\ngo 1.26.0\n\nrequire "+m.path+" v0.1.0\n\n"+replaces)
	copyFile(t, filepath.Join(m.dir, "go.sum"), filepath.Join(dir, "go.sum"))
	var imports strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&imports, "\t_ %q\n", p)
	}
	write(t, filepath.Join(dir, "main.go"), "package main\n\nimport (\n"+imports.String()+")\n\nfunc main() {}\n")
	goCmd(t, dir, "mod", "tidy")
	reached := map[string]bool{}
	for path := range moduleVersions(t, goCmd(t, dir, "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".")) {
		reached[path] = true
	}
	return reached
}

// goCmd runs the go command in dir outside any workspace and returns its
// standard output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
