// Package integration holds the tests that cross hookkit's modules or need
// a real process: the crash tests (a host killed with SIGKILL mid-storm, in
// crashhost), dispatch/otelobserver's spans across dispatch/riverqueue, and
// the documentation checks (doccheck). It is a module of its own, with no
// code a host imports, so that what only these tests need never appears in
// the go.mod of a module a host imports.
package integration
