package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// A repoModule is one go.mod of the repository and the tracked files of
// its own tree.
type repoModule struct {
	Path string // the module path, from go.mod
	Dir  string // its directory, slash-separated, relative to the repository root; "" for the root
	// Files are the tracked files of its tree, relative to Dir, without
	// the trees of the modules nested in it.
	Files []string
	// Requires are the repository's modules it requires, with the version.
	Requires  []module.Version
	Replaces  int    // replace directives in its go.mod
	GoMod     []byte // its go.mod
	GoVersion string // its go directive
	// Packages are the packages a host imports: outside internal/, not
	// main, with code beyond doc.go. Commands are its main packages
	// outside internal/.
	Packages, Commands []string
}

// Public reports whether a host can use the module: it has a package to
// import or a command to run. A test-only module (tests, a doc.go, code
// under internal/) is never tagged.
func (m *repoModule) Public() bool { return len(m.Packages) > 0 || len(m.Commands) > 0 }

// Tag is the git tag that publishes the module at version: v0.1.0 for the
// root, dispatch/riverqueue/v0.1.0 for a nested module.
func (m *repoModule) Tag(version string) string {
	if m.Dir == "" {
		return version
	}
	return m.Dir + "/" + version
}

// trackedFiles lists the files git tracks in the repository at root that
// are in the work tree (a tracked file deleted but not committed is not)
// and that git archive would export, slash-separated and relative to root.
func trackedFiles(root string) ([]string, error) {
	list := func(args ...string) ([]string, error) {
		cmd := exec.Command("git", append([]string{"ls-files", "-z"}, args...)...)
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git ls-files %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		return strings.FieldsFunc(string(out), func(r rune) bool { return r == 0 }), nil
	}
	all, err := list("--cached")
	if err != nil {
		return nil, err
	}
	deleted, err := list("--deleted")
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(f string) bool { return slices.Contains(deleted, f) })
	slices.Sort(all)
	all = slices.Compact(all)
	// The go command zips a tag with git archive, which leaves out what
	// .gitattributes marks export-ignore.
	cmd := exec.Command("git", "check-attr", "-z", "--stdin", "export-ignore")
	cmd.Dir = root
	cmd.Stdin = strings.NewReader(strings.Join(all, "\x00"))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git check-attr export-ignore: %w", err)
	}
	ignored := map[string]bool{}
	fields := strings.Split(string(out), "\x00") // path, attribute, value, path, …
	for i := 0; i+2 < len(fields); i += 3 {
		if fields[i+2] == "set" {
			ignored[fields[i]] = true
		}
	}
	return slices.DeleteFunc(all, func(f string) bool { return ignored[f] }), nil
}

// discover finds every module of the repository at root from its tracked
// go.mod files, gives each its tracked files, and reads its go.mod and its
// packages. The root module comes first, then the others by directory.
func discover(root string) ([]*repoModule, error) {
	files, err := trackedFiles(root)
	if err != nil {
		return nil, err
	}
	var mods []*repoModule
	byDir := map[string]*repoModule{}
	for _, f := range files {
		if path.Base(f) != "go.mod" {
			continue
		}
		dir := path.Dir(f)
		if dir == "." {
			dir = ""
		}
		if ignoredDir(dir) {
			continue // the go command would not see a module there either
		}
		m := &repoModule{Dir: dir}
		mods = append(mods, m)
		byDir[dir] = m
	}
	if byDir[""] == nil {
		return nil, errors.New("no go.mod at the repository's root")
	}
	slices.SortFunc(mods, func(a, b *repoModule) int { return strings.Compare(a.Dir, b.Dir) })

	for _, f := range files {
		m := owner(byDir, f)
		rel := f
		if m.Dir != "" {
			rel = strings.TrimPrefix(f, m.Dir+"/")
		}
		m.Files = append(m.Files, rel)
	}

	paths := map[string]bool{}
	for _, m := range mods {
		if m.GoMod, err = os.ReadFile(filepath.Join(root, filepath.FromSlash(m.Dir), "go.mod")); err != nil {
			return nil, err
		}
		mf, err := modfile.Parse(path.Join(m.Dir, "go.mod"), m.GoMod, nil)
		if err != nil {
			return nil, err
		}
		if mf.Module == nil {
			return nil, fmt.Errorf("%s: no module directive", path.Join(m.Dir, "go.mod"))
		}
		m.Path, m.Replaces, m.GoVersion = mf.Module.Mod.Path, len(mf.Replace), strings.TrimPrefix(runtime.Version(), "go")
		if mf.Go != nil {
			m.GoVersion = mf.Go.Version
		}
		paths[m.Path] = true
		for _, r := range mf.Require {
			m.Requires = append(m.Requires, r.Mod)
		}
	}
	for _, m := range mods {
		m.Requires = slices.DeleteFunc(m.Requires, func(v module.Version) bool { return !paths[v.Path] })
		if err := m.readPackages(root); err != nil {
			return nil, err
		}
	}
	return mods, nil
}

// owner is the module whose tree holds the file f: the one with the
// deepest directory above it.
func owner(byDir map[string]*repoModule, f string) *repoModule {
	for dir := path.Dir(f); ; dir = path.Dir(dir) {
		if dir == "." {
			return byDir[""]
		}
		if m := byDir[dir]; m != nil {
			return m
		}
	}
}

// ignoredDir reports whether the go command ignores the directory dir
// (slash-separated, relative): one of its elements is testdata or vendor,
// or starts with "." or "_".
func ignoredDir(dir string) bool {
	for elem := range strings.SplitSeq(dir, "/") {
		if elem == "testdata" || elem == "vendor" || strings.HasPrefix(elem, ".") || strings.HasPrefix(elem, "_") {
			return true
		}
	}
	return false
}

// readPackages finds the module's packages among its tracked files, as
// the go command would build them here (build constraints included), and
// sorts them into Packages and Commands.
func (m *repoModule) readPackages(root string) error {
	modRoot := filepath.Join(root, filepath.FromSlash(m.Dir))
	tracked := map[string][]string{} // directory → its tracked files' names
	for _, f := range m.Files {
		dir := path.Dir(f)
		if strings.HasSuffix(f, ".go") && (dir == "." || !ignoredDir(dir)) {
			tracked[dir] = append(tracked[dir], path.Base(f))
		}
	}
	// The build context sees only tracked files: an untracked file is not
	// in the zip, so it is not in the package a host gets either.
	ctx := build.Default
	ctx.ReadDir = func(dir string) ([]fs.FileInfo, error) {
		rel, err := filepath.Rel(modRoot, dir)
		if err != nil {
			return nil, err
		}
		var infos []fs.FileInfo
		for _, name := range tracked[filepath.ToSlash(rel)] {
			info, err := os.Lstat(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			infos = append(infos, info)
		}
		return infos, nil
	}
	for _, dir := range slices.Sorted(maps.Keys(tracked)) {
		pkg, err := ctx.ImportDir(filepath.Join(modRoot, filepath.FromSlash(dir)), 0)
		if _, ok := err.(*build.NoGoError); ok {
			continue // tests only, or files for other systems
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path.Join(m.Dir, dir), err)
		}
		importPath := m.Path
		if dir != "." {
			importPath += "/" + dir
		}
		switch {
		case isInternal(importPath):
		case pkg.Name == "main":
			m.Commands = append(m.Commands, importPath)
		case slices.ContainsFunc(pkg.GoFiles, func(f string) bool { return f != "doc.go" }):
			m.Packages = append(m.Packages, importPath)
		}
	}
	return nil
}

// isInternal reports whether only code in the same tree may import the
// package at importPath.
func isInternal(importPath string) bool {
	return slices.Contains(strings.Split(importPath, "/"), "internal")
}

// checkRelease reports what a tag could not fix afterwards: a nested
// module whose path is not the root's path and its directory (the tag
// <dir>/<version> would not name it), a replace directive (hosts ignore
// it, so what builds here would not build there), a requirement of a
// test-only module (never published), and hookkit requirements that do
// not name one version (the modules are released in lockstep). It returns
// that version: want if it is not empty, else the one the modules
// require, else v0.1.0.
func checkRelease(mods []*repoModule, want string) (string, error) {
	rootPath := mods[0].Path
	public := map[string]bool{}
	for _, m := range mods {
		public[m.Path] = m.Public()
	}
	var errs []error
	versions := map[string][]string{} // version → the requirements naming it
	for _, m := range mods {
		goMod := path.Join(m.Dir, "go.mod")
		if m.Dir != "" && m.Path != rootPath+"/"+m.Dir {
			errs = append(errs, fmt.Errorf("%s: module %s is not %s/%s: the tag %s would not name it", goMod, m.Path, rootPath, m.Dir, m.Tag("vX.Y.Z")))
		}
		if m.Replaces > 0 {
			errs = append(errs, fmt.Errorf("%s: %d replace directive(s): hosts ignore them (bash .ci/tidy removes them)", goMod, m.Replaces))
		}
		for _, r := range m.Requires {
			if m.Public() && !public[r.Path] {
				errs = append(errs, fmt.Errorf("%s: requires %s, a test-only module, which is never published", goMod, r.Path))
			}
			versions[r.Version] = append(versions[r.Version], goMod+" → "+r.Path)
		}
	}
	required := slices.Sorted(maps.Keys(versions))
	switch {
	case len(versions) > 1:
		var all []string
		for _, v := range required {
			all = append(all, fmt.Sprintf("%s (%s)", v, strings.Join(versions[v], ", ")))
		}
		errs = append(errs, fmt.Errorf("the modules require one another at %d versions, not one: %s", len(versions), strings.Join(all, "; ")))
	case len(versions) == 1 && want != "" && versions[want] == nil:
		errs = append(errs, fmt.Errorf("-version %s, but the modules require one another at %s", want, required[0]))
	case len(versions) == 1 && want == "":
		want = required[0]
	case want == "":
		want = "v0.1.0"
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if semver.Canonical(want) != want || semver.Major(want) != "v0" && semver.Major(want) != "v1" {
		return "", fmt.Errorf("version %q: want a canonical v0 or v1 semantic version (vMAJOR.MINOR.PATCH); v2 and later need /vN module paths", want)
	}
	return want, nil
}
