// Command rehearsal rehearses a release of every hookkit module, as hosts
// will meet it once the tags are pushed, without pushing anything:
//
//	go run ./internal/rehearsal          # from the repository; .ci/run does
//	go run ./internal/rehearsal -short   # the modules' tests with -short
//
// It finds every module of the repository (every tracked go.mod) and
// publishes each public one at the version the modules require of one
// another (lockstep, v0.1.0 today) into a file-based module proxy: its zip
// (golang.org/x/mod/zip) holds the module's tracked files only, without the
// trees of the modules nested in it, as the module proxy will serve the
// tag. A module is public when a host can use it: it has a package outside
// internal/ with code beyond doc.go, or a command. Test-only modules
// (internal/integration, verify/sdkdiff, …) are not tagged, so they are
// not published, and a public module that requires one fails here, as it
// would for a host.
//
// Then, outside the workspace (GOWORK=off), with no replace directive, in a
// module cache of its own, reading modules only from that proxy and from
// this machine's module cache (as a second file proxy, so the run needs no
// network), for each public module:
//
//   - a fresh host module go gets it, imports every public package of it,
//     tidies, builds and vets;
//   - the tests of every package of the module run from the module cache
//     (go test vets what it tests; go vet work vets the same files in the
//     workspace);
//
// and for the repository as a whole:
//
//   - go install <command>@<version> of every command of a public module;
//   - go run <example>@<version> -demo of every program under examples/,
//     which must exit 0.
//
// Checksums: the hookkit modules are not in sum.golang.org until they are
// published, so GONOSUMDB names them; every other module a host's go.sum
// gains must be one the repository's go.sum files already hold (each host
// starts with their lines, the checksum database's answers when they were
// added), so nothing enters unverified and sum.golang.org is never asked.
// go install and go run with @version read no go.sum: they run with
// GOSUMDB=off and the hookkit proxy alone, so every other module comes
// from the module cache the hosts filled and verified.
//
// Before any of that it checks what a tag cannot fix afterwards: each
// nested module's path is the root's path and its directory (so that the
// tag <dir>/<version> names it), no go.mod has a replace directive, and the
// hookkit requirements all name one version.
//
// It prints each step as it runs and the time it took, ends with a summary
// naming every step that failed, exits 1 if any did, and removes its
// temporary directory (proxy, module cache, hosts) unless -keep.
package main
