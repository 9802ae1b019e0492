package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// repoFile is one tracked file of a module, for zip.Create.
type repoFile struct {
	name string // relative to the module's directory, slash-separated
	file string // on disk
}

func (f repoFile) Path() string                 { return f.name }
func (f repoFile) Lstat() (os.FileInfo, error)  { return os.Lstat(f.file) }
func (f repoFile) Open() (io.ReadCloser, error) { return os.Open(f.file) }

// zipFiles are m's tracked files, as zip.Create reads them. A nested
// module without a LICENSE gets license, the root's, as the go command
// gives it one when it zips a tag (cmd/go's modfetch; x/mod's
// zip.CreateFromVCS does the same).
func (m *repoModule) zipFiles(root, license string) []zip.File {
	files := make([]zip.File, 0, len(m.Files)+1)
	for _, name := range m.Files {
		files = append(files, repoFile{name: name, file: filepath.Join(root, filepath.FromSlash(m.Dir), filepath.FromSlash(name))})
	}
	if m.Dir != "" && license != "" && !slices.Contains(m.Files, "LICENSE") {
		files = append(files, repoFile{name: "LICENSE", file: license})
	}
	return files
}

// publish writes m at version into the file-based module proxy at proxy,
// laid out as GOPROXY=file://<proxy> reads it (the module proxy protocol:
// <module>/@v/list, <version>.info, .mod, .zip); license is the root's
// LICENSE file, or "". It returns the files zip.Create left out and why
// (a symbolic link, a directory with a go.mod of its own), which a tag
// would leave out too.
func publish(proxy, root string, m *repoModule, version string, at time.Time, license string) ([]zip.FileError, error) {
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := m.zipFiles(root, license)
	checked, err := zip.CheckFiles(files)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	z, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		return nil, err
	}
	err = zip.Create(z, module.Version{Path: m.Path, Version: version}, files)
	if cerr := z.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, at.UTC()})
	if err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{
		version + ".info": info,
		version + ".mod":  m.GoMod,
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	return checked.Omitted, nil
}
