package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// newRepo makes a git repository in a temporary directory holding files
// (slash-separated names), tracks those named in tracked, and returns its
// root.
func newRepo(t *testing.T, files map[string]string, untracked ...string) string {
	t.Helper()
	root := t.TempDir()
	for name, text := range files {
		file := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, root, "init", "-q")
	var add []string
	for name := range files {
		if !slices.Contains(untracked, name) {
			add = append(add, name)
		}
	}
	git(t, root, append([]string{"add", "--"}, add...)...)
	return root
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// repoFiles is a repository with a root module, a nested public module, a
// test-only module, and what the go command and the module zip leave out.
var repoFiles = map[string]string{
	"go.mod":                     "module example.com/repo\n\ngo 1.26.0\n",
	"LICENSE":                    "the root's license\n",
	".gitattributes":             "notes.txt export-ignore\n",
	"notes.txt":                  "not exported\n",
	"doc.go":                     "// Package repo is a test.\npackage repo\n",
	"repo.go":                    "package repo\n\n// V is a value.\nvar V = 1\n",
	"untracked.go":               "package repo\n\nvar W = 2\n",
	"onlydoc/doc.go":             "// Package onlydoc has no code.\npackage onlydoc\n",
	"internal/x/x.go":            "package x\n",
	"cmd/tool/main.go":           "package main\n\nfunc main() {}\n",
	"gen/gen.go":                 "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
	"testdata/mod/go.mod":        "module example.com/fixture\n",
	"testdata/mod/f.go":          "package f\n",
	"nested/go.mod":              "module example.com/repo/nested\n\ngo 1.26.0\n\nrequire example.com/repo v0.3.0\n",
	"nested/n.go":                "package nested\n\nimport _ \"example.com/repo\"\n",
	"nested/n_test.go":           "package nested\n",
	"testonly/go.mod":            "module example.com/repo/testonly\n\ngo 1.26.0\n\nrequire example.com/repo/nested v0.3.0\n",
	"testonly/doc.go":            "// Package testonly holds tests.\npackage testonly\n",
	"testonly/testonly_test.go":  "package testonly\n",
	"testonly/internal/h/h.go":   "package h\n",
	"testonly/internal/cmd/c.go": "package main\n\nfunc main() {}\n",
}

// Modules are found from the tracked go.mod files, each with its own
// tracked files (no nested module's, no untracked one, none that git
// archive does not export) and its packages
// sorted into what a host imports and what it runs; a test-only module is
// not public, and one added later is found with no change here.
func TestDiscover(t *testing.T) {
	root := newRepo(t, repoFiles, "untracked.go")
	mods, err := discover(root)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*repoModule{}
	var paths []string
	for _, m := range mods {
		byPath[m.Path] = m
		paths = append(paths, m.Path)
	}
	if want := []string{"example.com/repo", "example.com/repo/nested", "example.com/repo/testonly"}; !slices.Equal(paths, want) {
		t.Fatalf("modules %v, want %v", paths, want)
	}
	rootMod, nested, testOnly := byPath["example.com/repo"], byPath["example.com/repo/nested"], byPath["example.com/repo/testonly"]
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"root's files", rootMod.Files, []string{".gitattributes", "LICENSE", "cmd/tool/main.go", "doc.go", "gen/gen.go", "go.mod", "internal/x/x.go", "onlydoc/doc.go",
			"repo.go", "testdata/mod/f.go", "testdata/mod/go.mod"}},
		{"root's packages", rootMod.Packages, []string{"example.com/repo"}},
		{"root's commands", rootMod.Commands, []string{"example.com/repo/cmd/tool"}},
		{"nested's files", nested.Files, []string{"go.mod", "n.go", "n_test.go"}},
		{"nested's packages", nested.Packages, []string{"example.com/repo/nested"}},
		{"test-only's packages", testOnly.Packages, nil},
		{"test-only's commands", testOnly.Commands, nil},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	if !rootMod.Public() || !nested.Public() || testOnly.Public() {
		t.Errorf("public: root %v, nested %v, test-only %v; want true, true, false", rootMod.Public(), nested.Public(), testOnly.Public())
	}
	if want := []module.Version{{Path: "example.com/repo", Version: "v0.3.0"}}; !slices.Equal(nested.Requires, want) {
		t.Errorf("nested requires %v, want %v", nested.Requires, want)
	}
	if got := nested.Tag("v0.3.0"); got != "nested/v0.3.0" {
		t.Errorf("nested's tag %q", got)
	}

	os.MkdirAll(filepath.Join(root, "later"), 0o755)
	os.WriteFile(filepath.Join(root, "later", "go.mod"), []byte("module example.com/repo/later\n\ngo 1.26.0\n"), 0o644)
	os.WriteFile(filepath.Join(root, "later", "l.go"), []byte("package later\n\nvar L = 1\n"), 0o644)
	git(t, root, "add", "later")
	if mods, err = discover(root); err != nil {
		t.Fatal(err)
	}
	if len(mods) != 4 || mods[1].Path != "example.com/repo/later" || !mods[1].Public() {
		t.Errorf("after adding later/go.mod: %d modules, the second %s", len(mods), mods[1].Path)
	}
}

// What a tag cannot fix afterwards is refused before anything is
// published, naming the go.mod.
func TestCheckRelease(t *testing.T) {
	root := func() *repoModule {
		return &repoModule{Path: "example.com/repo", Packages: []string{"example.com/repo"}}
	}
	nested := func(requires ...module.Version) *repoModule {
		return &repoModule{Path: "example.com/repo/nested", Dir: "nested", Packages: []string{"example.com/repo/nested"}, Requires: requires}
	}
	v := func(path, version string) module.Version { return module.Version{Path: path, Version: version} }
	testOnly := &repoModule{Path: "example.com/repo/testonly", Dir: "testonly"}
	for _, c := range []struct {
		name    string
		mods    []*repoModule
		flag    string
		want    string
		wantErr string
	}{
		{name: "the version required", mods: []*repoModule{root(), nested(v("example.com/repo", "v0.3.0"))}, want: "v0.3.0"},
		{name: "no requirement: v0.1.0", mods: []*repoModule{root()}, want: "v0.1.0"},
		{name: "-version agrees", mods: []*repoModule{root(), nested(v("example.com/repo", "v0.3.0"))}, flag: "v0.3.0", want: "v0.3.0"},
		{name: "-version disagrees", mods: []*repoModule{root(), nested(v("example.com/repo", "v0.3.0"))}, flag: "v0.4.0",
			wantErr: "-version v0.4.0, but the modules require one another at v0.3.0"},
		{name: "two versions", mods: []*repoModule{root(), nested(v("example.com/repo", "v0.3.0")),
			{Path: "example.com/repo/b", Dir: "b", Packages: []string{"example.com/repo/b"}, Requires: []module.Version{v("example.com/repo", "v0.2.0")}}},
			wantErr: "at 2 versions, not one: v0.2.0 (b/go.mod → example.com/repo); v0.3.0 (nested/go.mod → example.com/repo)"},
		{name: "path is not root + dir", mods: []*repoModule{root(), {Path: "example.com/other", Dir: "nested", Packages: []string{"example.com/other"}}},
			wantErr: "nested/go.mod: module example.com/other is not example.com/repo/nested: the tag nested/vX.Y.Z would not name it"},
		{name: "replace", mods: []*repoModule{root(), {Path: "example.com/repo/nested", Dir: "nested", Replaces: 2}},
			wantErr: "nested/go.mod: 2 replace directive(s)"},
		{name: "public requires test-only", mods: []*repoModule{root(), nested(v("example.com/repo/testonly", "v0.1.0")), testOnly},
			wantErr: "nested/go.mod: requires example.com/repo/testonly, a test-only module, which is never published"},
		{name: "test-only may require test-only", mods: []*repoModule{root(), testOnly,
			{Path: "example.com/repo/t2", Dir: "t2", Requires: []module.Version{v("example.com/repo/testonly", "v0.1.0")}}}, want: "v0.1.0"},
		{name: "not canonical", mods: []*repoModule{root()}, flag: "v0.1", wantErr: `version "v0.1": want a canonical`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := checkRelease(c.mods, c.flag)
			switch {
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("error %v, want one containing %q", err, c.wantErr)
			case c.wantErr == "" && (err != nil || got != c.want):
				t.Errorf("%q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// A published module is what the go command downloads through
// GOPROXY=file://: the module's tracked files, without its nested
// modules' trees; a nested module without a LICENSE has the root's.
func TestPublishThenDownload(t *testing.T) {
	root := newRepo(t, repoFiles, "untracked.go")
	mods, err := discover(root)
	if err != nil {
		t.Fatal(err)
	}
	proxy := t.TempDir()
	// A directory with a go.mod is another module's to the zip, even in
	// testdata/: its files are left out, and reported.
	leftOut := map[string][]string{"example.com/repo": {"testdata/mod/f.go", "testdata/mod/go.mod"}, "example.com/repo/nested": nil}
	for _, m := range mods[:2] {
		omitted, err := publish(proxy, root, m, "v0.3.0", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), filepath.Join(root, "LICENSE"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range omitted {
			names = append(names, o.Path)
		}
		slices.Sort(names)
		if !slices.Equal(names, leftOut[m.Path]) {
			t.Errorf("%s: left out %v, want %v", m.Path, omitted, leftOut[m.Path])
		}
	}
	host := t.TempDir()
	cache := filepath.Join(t.TempDir(), "modcache")
	for path, want := range map[string][]string{
		"example.com/repo":        slices.DeleteFunc(slices.Clone(mods[0].Files), func(f string) bool { return strings.HasPrefix(f, "testdata/mod/") }),
		"example.com/repo/nested": {"LICENSE", "go.mod", "n.go", "n_test.go"}, // the root's LICENSE, as the go command adds it
	} {
		cmd := exec.Command("go", "mod", "download", "-json", path+"@v0.3.0")
		cmd.Dir = host
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOPROXY=file://"+filepath.ToSlash(proxy), "GOSUMDB=off", "GOMODCACHE="+cache,
			"GOFLAGS=-modcacherw", "GOTOOLCHAIN=local")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go mod download %s: %v\n%s", path, err, out)
		}
		var dl struct{ Dir, Error string }
		if err := json.Unmarshal(out, &dl); err != nil || dl.Error != "" {
			t.Fatalf("go mod download %s: %v %s", path, err, dl.Error)
		}
		var got []string
		filepath.WalkDir(dl.Dir, func(file string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dl.Dir, file)
				got = append(got, filepath.ToSlash(rel))
			}
			return err
		})
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s@v0.3.0 holds %q, want %q", path, got, want)
		}
	}
}
