//go:build race

package integration_test

// raceDetector says the tests run under the race detector, whose
// slowdown breaks the time bounds of the crash and ordering storms: those
// skip here, and the plain go test work step runs them.
const raceDetector = true
