// Package doccheck holds tests that keep the documentation honest: the Go
// snippets of README.md compile against this checkout, and the public
// contract DESIGN.md pins keeps its exact signatures.
package doccheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// imports maps the package names README snippets use to import paths.
var imports = map[string]string{
	"context":       "context",
	"errors":        "errors",
	"fmt":           "fmt",
	"http":          "net/http",
	"log":           "log",
	"os":            "os",
	"time":          "time",
	"sql":           "database/sql",
	"pgx":           "github.com/jackc/pgx/v5",
	"pgxpool":       "github.com/jackc/pgx/v5/pgxpool",
	"stripe":        "github.com/stripe/stripe-go/v76",
	"verify":        "github.com/hookkit/hookkit/verify",
	"verifytest":    "github.com/hookkit/hookkit/verify/verifytest",
	"events":        "github.com/hookkit/hookkit/events",
	"stripeevent":   "github.com/hookkit/hookkit/events/stripeevent",
	"twilioevent":   "github.com/hookkit/hookkit/events/twilioevent",
	"standardevent": "github.com/hookkit/hookkit/events/standardevent",
	"conversoevent": "github.com/hookkit/hookkit/events/conversoevent",
	"etailevent":    "github.com/hookkit/hookkit/events/etailevent",
	"idempotency":   "github.com/hookkit/hookkit/idempotency",
	"redisstore":    "github.com/hookkit/hookkit/idempotency/redisstore",
	"sqlstore":      "github.com/hookkit/hookkit/idempotency/sqlstore",
	"pgxstore":      "github.com/hookkit/hookkit/idempotency/pgxstore",
	"dispatch":      "github.com/hookkit/hookkit/dispatch",
	"replay":        "github.com/hookkit/hookkit/dispatch/replay",
	"record":        "github.com/hookkit/hookkit/dispatch/record",
	"sqltx":         "github.com/hookkit/hookkit/dispatch/sqltx",
	"pgxtx":         "github.com/hookkit/hookkit/dispatch/pgxtx",
	"riverqueue":    "github.com/hookkit/hookkit/dispatch/riverqueue",
	"reconcile":     "github.com/hookkit/hookkit/dispatch/reconcile",
	"riverpgxv5":    "github.com/riverqueue/river/riverdriver/riverpgxv5",
	"riversqlite":   "github.com/riverqueue/river/riverdriver/riversqlite",
	"otelobserver":  "github.com/hookkit/hookkit/dispatch/otelobserver",
}

// prelude declares what the snippets take from the host application they
// are pasted into: its mux, its clients, its business functions.
const prelude = `
var (
	mux         = http.NewServeMux()
	redisClient *redis.Client
	db          *sql.DB
	pool        *pgxpool.Pool
	endpoint    http.Handler
	t           *testing.T
	bookings    bookingService
)

type bookingService struct{}

func (bookingService) MarkDepositPaid(ctx context.Context, bookingID string, amount int64) error { return nil }

func markPaid(ctx context.Context, bookingID string, amount int64) error          { return nil }
func markRefunded(ctx context.Context, bookingID string, amount int64) error      { return nil }
func emailInstead(ctx context.Context, to, errorCode string) error                { return nil }
func recordSMSStatus(ctx context.Context, e *events.Event) error                   { return nil }
func createBooking(ctx context.Context, id, phone, status string) error           { return nil }
func recordShopPayment(ctx context.Context, bookingID string, amount int64) error { return nil }
func yourHandler(w http.ResponseWriter, r *http.Request)                           {}
`

var (
	goBlock   = regexp.MustCompile("(?s)```go\n(.*?)```")
	qualified = regexp.MustCompile(`\b([a-z][a-zA-Z0-9]*)\.[A-Z]`)
	comment   = regexp.MustCompile(`(^|\s)//[^\n]*`)
)

// TestReadmeSnippetsCompile builds every Go snippet of README.md, each as
// the body of a function in a module that uses this checkout of hookkit.
func TestReadmeSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module; skipped with -short")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go snippets")
	}

	dir := t.TempDir()
	writeSnippetWorkspace(t, dir, root)
	write(t, filepath.Join(dir, "prelude.go"), "package main\n\n"+importBlock(prelude+"redis.Nil testing.T sql.DB pgxpool.Pool", map[string]string{
		"redis": "github.com/redis/go-redis/v9", "testing": "testing"})+prelude+"\nfunc main() {}\n")
	for i, b := range blocks {
		body := b[1]
		src := "package main\n\n" + importBlock(body, nil) +
			fmt.Sprintf("\n// README.md snippet %d\nfunc snippet%d() {\n%s\n}\n", i+1, i+1, body)
		write(t, filepath.Join(dir, fmt.Sprintf("snippet%d.go", i+1)), src)
	}

	cmd := exec.Command("go", "vet", ".")
	cmd.Dir = dir
	// The module graph is this repository's workspace: everything is in
	// the module cache already, and nothing may be fetched.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK="+filepath.Join(dir, "go.work"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README.md's Go snippets do not compile (snippet N is the Nth go block):\n%s", out)
	}
}

// writeSnippetWorkspace makes dir a module of its own (its snippets
// import hookkit's packages as a host would) inside a copy of this
// repository's workspace: go.work with every module of the checkout, by
// absolute path, and dir. The workspace's requirements are the
// repository's, so nothing needs fetching.
func writeSnippetWorkspace(t *testing.T, dir, root string) {
	t.Helper()
	write(t, filepath.Join(dir, "go.mod"), "module readmesnippets\n\ngo 1.26.0\n")
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	// Relative paths in go.work ("./examples", "=> ./") become absolute.
	text := relativePath.ReplaceAllString(string(work), "${1}"+filepath.ToSlash(root)+"/$2")
	text = strings.ReplaceAll(text, filepath.ToSlash(root)+"/\n", filepath.ToSlash(root)+"\n")
	text = strings.Replace(text, "use (", "use (\n\t"+filepath.ToSlash(dir), 1)
	write(t, filepath.Join(dir, "go.work"), text)
	if sum, err := os.ReadFile(filepath.Join(root, "go.work.sum")); err == nil {
		write(t, filepath.Join(dir, "go.work.sum"), string(sum))
	}
}

var relativePath = regexp.MustCompile(`(?m)(^\t|=> )\.(?:/([^\s]*))?$`)

// importBlock imports the packages src refers to as pkg.Name.
func importBlock(src string, extra map[string]string) string {
	var paths []string
	for _, m := range qualified.FindAllStringSubmatch(comment.ReplaceAllString(src, ""), -1) {
		path, ok := imports[m[1]]
		if !ok {
			path, ok = extra[m[1]]
		}
		if ok && !slices.Contains(paths, path) {
			paths = append(paths, path)
		}
	}
	if len(paths) == 0 {
		return ""
	}
	slices.Sort(paths)
	return "import (\n\t\"" + strings.Join(paths, "\"\n\t\"") + "\"\n)\n"
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
