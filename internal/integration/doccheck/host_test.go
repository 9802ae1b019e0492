package doccheck

import (
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

// A host that imports hookkit's core resolves it on its own, outside this
// workspace (GOWORK=off; hookkit's published version is stood in for by
// this checkout), as a host would: its pins of pgx, River, OTel, go-redis
// and client_golang are unchanged by go mod tidy, and a host of the core
// alone finds none of River, riverui, OTel, go-redis or Prometheus in its
// build list. It fetches the pinned versions through the module proxy.
func TestHostPaysOnlyForWhatItImports(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves two host modules through the module proxy")
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

	t.Run("core-only host", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "go.mod"), "module example.com/corehost\n\ngo 1.26.0\n\nrequire github.com/hookkit/hookkit v0.1.0\n\n"+
			"replace github.com/hookkit/hookkit v0.1.0 => "+root+"\n")
		write(t, filepath.Join(dir, "main.go"), "package main\n\nimport ("+coreImports+")\n\nfunc main() {}\n")
		goCmd(t, dir, "mod", "tidy")
		all := goCmd(t, dir, "list", "-m", "all")
		t.Logf("a host of the core: %d modules in its build list", len(strings.Split(strings.TrimSpace(all), "\n")))
		for _, heavy := range []string{"github.com/riverqueue/", "riverqueue.com/", "go.opentelemetry.io/", "github.com/redis/",
			"github.com/prometheus/", "github.com/jackc/pgx"} {
			if strings.Contains(all, heavy) {
				t.Errorf("a host of the core alone has %s* in its build list:\n%s", heavy, all)
			}
		}
		goCmd(t, dir, "build", "./...")
	})
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
