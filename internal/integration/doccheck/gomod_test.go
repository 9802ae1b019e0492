package doccheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/semver"
)

// goModFile is the part of `go mod edit -json` these checks read.
type goModFile struct {
	Module  struct{ Path string }
	Require []struct {
		Path     string
		Version  string
		Indirect bool
	}
}

func readGoMod(t *testing.T, dir string) goModFile {
	t.Helper()
	out, err := exec.Command("go", "mod", "edit", "-json", filepath.Join(dir, "go.mod")).Output()
	if err != nil {
		t.Fatalf("go mod edit -json %s: %v", dir, err)
	}
	var f goModFile
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// hookkitReplaces are replace directives that stand this checkout in for
// every hookkit module at the version the modules require one another at.
func hookkitReplaces(mods []module) string {
	var b strings.Builder
	for _, m := range mods {
		fmt.Fprintf(&b, "replace %s v0.1.0 => %s\n", m.path, m.dir)
	}
	return b.String()
}

// testOnly reports whether m holds no code anything but its own tests
// runs: every package of it is a doc.go alone or lies under an internal
// directory of the module (a crash test's host). Its go.mod may require
// what its tests need.
func testOnly(t *testing.T, m module) bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .GoFiles \" \"}}", "./...")
	cmd.Dir = m.dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v", m.dir, err)
	}
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		path, files, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal") || files == "doc.go" || files == "" {
			continue
		}
		return false
	}
	return true
}

// TestGoModsRequireWhatTheirCodeNeeds fails when a module that hosts
// import (or install, or run: cmd/hookkit, examples) requires in its
// go.mod, directly or not, a module or a version that only its tests need:
// a host resolves every module its dependencies' go.mod files name, so a
// requirement only a test needs costs it a module in its build list, or
// raises one it pins. Each requirement must be in the build list of the
// modules the go.mod requires directly that provide packages the module's
// own code imports (at the versions it requires them), at a version no
// higher: what the code needs, and what those modules' go.mod files bring
// with them anyway. Test-only modules (a doc.go, and tests) may require
// what their tests need.
func TestGoModsRequireWhatTheirCodeNeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves each module's build list outside the workspace")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	mods := workspaceModules(t, root)
	replaces := hookkitReplaces(mods)
	for _, m := range mods {
		if testOnly(t, m) {
			continue
		}
		rel, _ := filepath.Rel(root, m.dir)
		t.Run(rel, func(t *testing.T) {
			// The modules the code imports that the go.mod requires
			// directly, at their versions (chosen deliberately); the rest
			// come, at the versions those modules' go.mod files give them.
			gomod := readGoMod(t, m.dir)
			needed := codeModules(t, m, replaces)
			dir := t.TempDir()
			var require strings.Builder
			for _, r := range gomod.Require {
				if _, ok := needed[r.Path]; ok && !r.Indirect {
					fmt.Fprintf(&require, "\t%s %s\n", r.Path, r.Version)
				}
			}
			write(t, filepath.Join(dir, "go.mod"), "module example.com/codeneeds\n\ngo 1.26.0\n\nrequire (\n"+require.String()+")\n\n"+replaces)
			copyFile(t, filepath.Join(m.dir, "go.sum"), filepath.Join(dir, "go.sum"))
			buildList := moduleVersions(t, goCmd(t, dir, "list", "-m", "all"))
			for _, r := range gomod.Require {
				got, ok := buildList[r.Path]
				switch {
				case !ok:
					t.Errorf("%s/go.mod requires %s %s, which its code does not need (only its tests): move those tests to a test-only module", rel, r.Path, r.Version)
				case got != "" && semver.Compare(r.Version, got) > 0:
					t.Errorf("%s/go.mod requires %s %s, above the %s its code needs: a test raised it", rel, r.Path, r.Version, got)
				}
			}
		})
	}
}

// codeModules returns the modules, and their versions, that provide the
// packages m's own code (not its tests) imports, resolved outside the
// workspace from m's go.mod (with hookkit's modules from this checkout).
func codeModules(t *testing.T, m module, replaces string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	modfile := filepath.Join(dir, "go.mod")
	text, err := os.ReadFile(filepath.Join(m.dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, modfile, string(text)+"\n"+replaces)
	copyFile(t, filepath.Join(m.dir, "go.sum"), filepath.Join(dir, "go.sum"))
	out := goCmd(t, m.dir, "list", "-modfile="+modfile, "-deps", "-f", "{{with .Module}}{{.Path}} {{.Version}}{{end}}", "./...")
	needed := map[string]string{}
	for path, version := range moduleVersions(t, out) {
		if path != m.path {
			needed[path] = version
		}
	}
	for path := range needed {
		if needed[path] == "" { // a hookkit module, replaced by this checkout
			needed[path] = "v0.1.0"
		}
	}
	return needed
}

// moduleVersions reads "path version" lines (go list's; a replaced
// module's line goes on with "=> dir").
func moduleVersions(t *testing.T, out string) map[string]string {
	t.Helper()
	versions := map[string]string{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) == 1:
			versions[f[0]] = ""
		case f[1] == "=>":
			versions[f[0]] = ""
		default:
			versions[f[0]] = f[1]
		}
	}
	return versions
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	write(t, to, string(b))
}

// coreDependencies is the README's sentence about what the core module
// depends on, up to the first semicolon or full stop.
var coreDependencies = regexp.MustCompile("The core module, `github.com/hookkit/hookkit`, depends only on\\s+([^;.]*(?:\\.[^\\s;][^;.]*)*)")

// TestReadmeNamesTheCoreDependencies fails unless README.md's sentence
// "The core module ... depends only on ..." names, in backquotes, exactly
// the modules the core's go.mod requires, and the core requires nothing
// its code does not import (TestGoModsRequireWhatTheirCodeNeeds holds it
// to that).
func TestReadmeNamesTheCoreDependencies(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := coreDependencies.FindStringSubmatch(strings.Join(strings.Fields(string(readme)), " "))
	if m == nil {
		t.Fatal("README.md has no sentence \"The core module, `github.com/hookkit/hookkit`, depends only on ...\"")
	}
	var named []string
	for _, q := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(m[1], -1) {
		named = append(named, q[1])
	}
	var required []string
	for _, r := range readGoMod(t, root).Require {
		required = append(required, r.Path)
	}
	slices.Sort(named)
	slices.Sort(required)
	if !slices.Equal(named, required) {
		t.Errorf("README.md says the core depends only on %q (%q); its go.mod requires %q", m[1], named, required)
	}
}
