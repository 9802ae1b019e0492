package standardevent

import "github.com/hookkit/hookkit/events"

// Standard Webhooks is a protocol, not a sender: this package has no catalog
// of Types of its own. A sender's Types live in the sender's package
// (conversoevent for GoConverso, whose booking events arrive either way).

// Source is the default Source of Standard Webhooks events.
const Source = "standard-webhooks"

// Config returns the generic JSON parser's configuration for Standard
// Webhooks (and Svix) deliveries whose events carry source as their Source
// (Source when empty): ID from the webhook-id (or svix-id) header, Type
// from the body's "type", Time from its "timestamp" (RFC 3339), Data its
// "data" object. A sender whose body names its type elsewhere changes Type
// (conversoevent.NewStandardParser does); the ID must stay the signed
// header's.
func Config(source string) events.JSONConfig {
	if source == "" {
		source = Source
	}
	return events.JSONConfig{
		Source:    source,
		IDHeaders: []string{"Webhook-Id", "Svix-Id"},
		Type:      "type",
		Time:      "timestamp",
		Data:      "data",
	}
}

// NewParser returns a parser for Config(source). Give each sender its own
// source name so their event IDs cannot collide.
func NewParser(source string) *events.JSONParser {
	return events.MustJSONParser(Config(source))
}
