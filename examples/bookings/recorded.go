package main

import (
	"embed"
	"io/fs"
)

// The demo and the tests send the recorded deliveries in recorded/: a copy
// of the repository's testdata/ for the senders the demo signs for, built
// into the program, so that the published command runs anywhere:
//
//	go run github.com/hookkit/hookkit/examples/bookings@v0.1.0 -demo
//
// runs from the module cache, where testdata/ (the core module's tree) is
// not. The copy is generated; TestRecordedIsACopyOfTestdata fails when it
// differs from testdata/.
//
//go:generate go test -run ^TestRecordedIsACopyOfTestdata$ . -update-recorded

//go:embed recorded
var recordedFiles embed.FS

// recordedDir is the copy's directory in this package.
const recordedDir = "recorded"

// recordedDeliveries is the embedded copy, laid out as testdata/ is
// ("stripe/payment_intent.succeeded", …), with the copy's README.md.
var recordedDeliveries = mustSub(recordedFiles, recordedDir)

// mustSub is fsys's subtree dir; dir is a constant, and fs.Sub fails only
// on a path that is not valid.
func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
