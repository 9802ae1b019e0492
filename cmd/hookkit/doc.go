// Command hookkit sends, replays, explains and receives webhooks offline,
// for every sender hookkit verifies: Stripe, Twilio, Standard Webhooks (and
// Svix) and HMAC senders (Etail Depot, GitHub, Shopify, Slack, GoConverso).
//
//	go install github.com/hookkit/hookkit/cmd/hookkit@latest
//
// The commands:
//
//	send         sign a body as a sender would and POST it (also the load tool)
//	trigger      build a realistic event of a catalog type, sign it and send it
//	replay       re-send recorded deliveries, bytes untouched, signed afresh
//	explain      say why a captured delivery does not verify
//	listen       receive deliveries, print each with its verdict, forward them
//	deadletters  list, show, re-run or discard dead letters (dispatch/admin)
//
// "hookkit help COMMAND" prints a command's flags and examples; every
// example is a test script (cmd/hookkit/clitest/testdata/script).
package main

import "runtime/debug"

// version is the module version the binary was built from ("(devel)" in
// a checkout).
func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
