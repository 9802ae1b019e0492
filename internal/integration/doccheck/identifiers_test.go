package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pkgNames are the names one package declares: its exported top-level
// names, and the methods and fields of its types (which docs name bare:
// "call Shutdown", "set Keep").
type pkgNames struct {
	top     map[string]bool
	members map[string]bool
}

func (n pkgNames) has(name string) bool { return n.top[name] || n.members[name] }

// workspace loads every package of the workspace's modules, by import path
// and by package name, with the doc text of each.
type workspace struct {
	byPath map[string]pkgNames
	byName map[string][]string // package name -> import paths
	docs   map[string]string   // import path -> every doc comment of its non-test files
}

func loadWorkspace(t *testing.T) *workspace {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Name}} {{.Dir}}", "work").Output()
	if err != nil {
		t.Fatalf("go list work: %v", err)
	}
	w := &workspace{byPath: map[string]pkgNames{}, byName: map[string][]string{}, docs: map[string]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		path, name, dir := f[0], f[1], f[2]
		names, doc := parseDir(t, dir)
		w.byPath[path] = names
		w.byName[name] = append(w.byName[name], path)
		w.docs[path] = doc
	}
	return w
}

func parseDir(t *testing.T, dir string) (pkgNames, string) {
	t.Helper()
	names := pkgNames{top: map[string]bool{}, members: map[string]bool{}}
	var doc strings.Builder
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), "_test.go") {
			// Docs may name a test or a benchmark; nothing else of a
			// test file is an identifier a host can use.
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && (strings.HasPrefix(fn.Name.Name, "Test") || strings.HasPrefix(fn.Name.Name, "Benchmark")) {
					names.top[fn.Name.Name] = true
				}
			}
			continue
		}
		for _, cg := range f.Comments {
			doc.WriteString(cg.Text())
			doc.WriteString("\n")
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					names.members[d.Name.Name] = true
				} else {
					names.top[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						names.top[s.Name.Name] = true
						ast.Inspect(s.Type, func(n ast.Node) bool {
							if field, ok := n.(*ast.Field); ok {
								for _, id := range field.Names {
									names.members[id.Name] = true
								}
							}
							return true
						})
					case *ast.ValueSpec:
						for _, id := range s.Names {
							names.top[id.Name] = true
						}
					}
				}
			}
		}
	}
	return names, doc.String()
}

// notIdentifiers are CamelCase words the docs use that name no Go
// identifier of hookkit's: products, protocols, providers' own parameter
// and header names.
var notIdentifiers = strings.Fields(`
	PostgreSQL SQLite OpenTelemetry GoConverso ReserveEasy EtailDepot JavaScript GitHub TypeScript
	MessageSid MessageStatus CallSid CallStatus SmsSid SmsStatus AccountSid ErrorCode ErrorMessage
	MessagingServiceSid ApiVersion RawDlrDoneDate CallDuration ReasonConferenceEnded
	PaymentIntent PaymentMethod CheckoutSession ConstructEvent ConstructEventWithOptions RequestValidator
	InsertTx InsertMany InsertManyTx JobCompleteTx JobRetry JobCancel JobDelete JobList AddWorker AddWorkerSafely
	RescueStuckJobsAfter CompletedJobRetentionPeriod CancelledJobRetentionPeriod DiscardedJobRetentionPeriod
	JobTimeout FetchPollInterval MaxAttempts WorkerDefaults UniqueOpts ByState ByArgs NextRetry InsertOpts
	HandlerFunc ServeMux ServeHTTP ResponseWriter MaxBytesReader NewServeMux ContentLength RequestURI
	ReadRequest GetBody DialFunc SetMaxOpenConns RegisterCommitHook TextMapPropagator MeterProvider TracerProvider
	TraceContext MapCarrier DeadlineExceeded ErrNoRows ErrNotFound RowsAffected QueryRow QueryRowContext ExecContext
	BeginTx LogAttrs DiscardHandler JSONHandler TextHandler NewJSONHandler SpanKind IsRemote SpanContext
	UnixMicro RFC3339 RFC3339Nano MustCompile WithCancel WithoutCancel WithTimeout WithDeadline
	MultiReader LimitReader NopCloser ReadAll ReadFile DirFS MapFS NewRecorder NewRequest NewServer
	JSONEq ErrorIs ErrorAs NoError Eventually HasPrefix
	OAuth MiB KiB GiB IPv4 IPv6 W3C WhatsApp JobArgs TestMyStore UnmarshalJSON
	ValidateBody ValidatePayloadWithTolerance
`)

var (
	camel        = regexp.MustCompile(`\b[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+\b`)
	qualRef      = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.([A-Z][A-Za-z0-9]*)(?:\.([A-Z][A-Za-z0-9]*))?`)
	docLink      = regexp.MustCompile(`\[\*?(?:([a-z][a-z0-9/]*)\.)?([A-Z][A-Za-z0-9]+)(?:\.([A-Z][A-Za-z0-9]*))?\]`)
	qualifiedRef = regexp.MustCompile(`\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]*)?`)
	backtick     = regexp.MustCompile("`([^`\n]+)`")
	codeBlock    = regexp.MustCompile("(?s)```.*?```")
)

// unknownNames returns the identifiers text names that exist nowhere: a
// qualified pkg.Name of a hookkit package that does not declare Name, a doc
// link that resolves to nothing, or a bare CamelCase word that no hookkit
// package declares (in home first).
func (w *workspace) unknownNames(text, home string, bare bool) []string {
	var missing []string
	anywhere := func(name string) bool {
		for _, n := range w.byPath {
			if n.has(name) {
				return true
			}
		}
		return false
	}
	inPackage := func(pkg, name string) (known, resolved bool) {
		paths := w.byName[pkg]
		if len(paths) == 0 {
			return false, false // not a hookkit package name: stdlib or a dependency
		}
		for _, p := range paths {
			if w.byPath[p].has(name) {
				return true, true
			}
		}
		return true, false
	}
	for _, m := range qualRef.FindAllStringSubmatch(text, -1) {
		if known, ok := inPackage(m[1], m[2]); known && !ok {
			missing = append(missing, m[1]+"."+m[2])
		} else if known && m[3] != "" && !anywhere(m[3]) {
			missing = append(missing, m[0])
		}
	}
	for _, m := range docLink.FindAllStringSubmatch(text, -1) {
		pkg, name := m[1], m[2]
		if pkg != "" {
			if known, ok := inPackage(filepath.Base(pkg), name); known && !ok {
				missing = append(missing, m[0])
			}
			continue
		}
		if home != "" && !w.byPath[home].has(name) && !anywhere(name) {
			missing = append(missing, m[0])
		}
	}
	if bare {
		// Bare words: not in code lines (a doc comment's indented
		// examples declare names of their own), not qualified (another
		// package's names were checked above, or are the standard
		// library's), and a plural of a name is the name.
		var prose []string
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "    ") {
				prose = append(prose, line)
			}
		}
		words := qualifiedRef.ReplaceAllString(strings.Join(prose, "\n"), "")
		for _, word := range camel.FindAllString(words, -1) {
			singular := strings.TrimSuffix(word, "s")
			if slices.Contains(notIdentifiers, word) || anywhere(word) || anywhere(singular) {
				continue
			}
			missing = append(missing, word)
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}

// Every identifier a package's doc comments or the README name exists:
// docs that describe an API the code no longer has (dispatch's doc once
// documented WithAsync, MemoryQueue and an async mode) fail here.
func TestDocsNameOnlyIdentifiersThatExist(t *testing.T) {
	w := loadWorkspace(t)
	for path, doc := range w.docs {
		if !strings.HasPrefix(path, "github.com/hookkit/hookkit") {
			continue
		}
		if missing := w.unknownNames(doc, path, true); len(missing) > 0 {
			t.Errorf("%s: its docs name identifiers that do not exist: %s", path, strings.Join(missing, ", "))
		}
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// In the README: qualified names everywhere, bare CamelCase words
	// where they are code (in backticks).
	text := string(readme)
	var code []string
	for _, m := range backtick.FindAllStringSubmatch(codeBlock.ReplaceAllString(text, ""), -1) {
		code = append(code, m[1])
	}
	missing := w.unknownNames(text, "", false)
	missing = append(missing, w.unknownNames(strings.Join(code, "\n"), "", true)...)
	if len(missing) > 0 {
		t.Errorf("README.md names identifiers that do not exist: %s", strings.Join(missing, ", "))
	}
}
