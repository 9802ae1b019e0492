package standardevent

import "github.com/hookkit/hookkit/events"

// Standard Webhooks is a protocol, not a sender: this package has no catalog
// of Types of its own. A sender's Types live in the sender's package
// (conversoevent for GoConverso, whose booking events arrive either way).

// Source is the default Source of Standard Webhooks events.
const Source = "standard-webhooks"

// Config returns the generic JSON parser's configuration for Standard
// Webhooks (and Svix) deliveries whose events carry source as their Source
// (Source when empty): ID from the svix-id header when it is present, and
// otherwise from webhook-id, Type from the body's "type", Time from its
// "timestamp" (RFC 3339), Data its "data" object. A sender whose body
// names its type elsewhere changes Type (conversoevent.NewStandardParser
// does); the ID headers must stay as they are.
//
// The ID is the message ID the signature covers: verify.Standard reads
// each of id, timestamp and signature from its svix- header when present
// and otherwise from its webhook- header (svix-js's rule), and the parser
// reads the ID by the same rule. A delivery whose svix-id is present but
// empty has no ID here and no valid signature there. Reading webhook-id
// first, as this package once did, let anyone add an unsigned webhook-id
// to a captured Svix delivery and replay it under a new key.
func Config(source string) events.JSONConfig {
	if source == "" {
		source = Source
	}
	return events.JSONConfig{
		Source:    source,
		IDHeaders: []string{"Svix-Id", "Webhook-Id"},
		Type:      "type",
		Time:      "timestamp",
		Data:      "data",
	}
}

// NewParser returns a parser for Config(source). Give each sender its own
// source name so their event IDs cannot collide.
func NewParser(source string) *events.JSONParser {
	return events.NewJSONParser(Config(source))
}
