// Package clitest tests the hookkit command (cmd/hookkit) end to end: its
// test scripts (testdata/script, in the style of the go command's own, run
// by testscript) drive the built binary against real hookkit Endpoints over
// loopback HTTP, whose deliveries are checked by hookkit's verifiers and by
// the providers' official Go SDKs (stripe-go, twilio-go, the Standard
// Webhooks library). It is a module of its own so that these test-only
// requirements never reach the command's build list.
package clitest
