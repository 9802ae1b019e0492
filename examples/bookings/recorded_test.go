package main

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"
)

var updateRecorded = flag.Bool("update-recorded", false, "rewrite recorded/ from the repository's testdata/ (go generate does)")

// repoTestdata is the repository's testdata/, seen from this package.
const repoTestdata = "../../testdata"

// recordedREADME says, beside the copy, that it is generated.
const recordedREADME = "README.md"

// The copy built into the program is the repository's testdata/ for the
// senders the demo signs for, byte for byte, file for file: a delivery
// added, changed or removed in testdata/ fails here until go generate
// copies it again. With -update-recorded (what go generate runs) it
// rewrites the copy instead.
func TestRecordedIsACopyOfTestdata(t *testing.T) {
	// The module cache holds this module without the core's testdata/;
	// go.work is there only in the repository, which has both.
	if _, err := os.Stat("../../go.work"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("not in the repository (a module cache?): the copy cannot be compared with testdata/ here")
	}
	want := map[string][]byte{}
	for _, sender := range slices.Sorted(maps.Keys(demoSigners())) {
		entries, err := os.ReadDir(filepath.Join(repoTestdata, sender))
		if err != nil {
			t.Fatalf("the repository's recorded deliveries: %v", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				body, err := os.ReadFile(filepath.Join(repoTestdata, sender, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				want[path.Join(sender, e.Name())] = body
			}
		}
	}
	if len(want) == 0 {
		t.Fatalf("no recorded deliveries in %s for %v", repoTestdata, slices.Sorted(maps.Keys(demoSigners())))
	}
	if *updateRecorded {
		writeRecorded(t, want)
		return
	}

	got := map[string][]byte{}
	err := fs.WalkDir(recordedDeliveries, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == recordedREADME {
			return err
		}
		got[name], err = fs.ReadFile(recordedDeliveries, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	const fix = "; run go generate ./examples/bookings"
	for _, name := range slices.Sorted(maps.Keys(want)) {
		switch body, ok := got[name]; {
		case !ok:
			t.Errorf("%s is in testdata/, not in the copy%s", name, fix)
		case !bytes.Equal(body, want[name]):
			t.Errorf("%s differs from testdata/%s%s", name, name, fix)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is in the copy, not in testdata/%s", name, fix)
		}
	}
}

// writeRecorded replaces every sender's directory of the copy with files.
func writeRecorded(t *testing.T, files map[string][]byte) {
	entries, err := os.ReadDir(recordedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := os.RemoveAll(filepath.Join(recordedDir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, body := range files {
		file := filepath.Join(recordedDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d files to %s", len(files), recordedDir)
}
