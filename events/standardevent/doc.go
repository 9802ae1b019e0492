// Package standardevent parses Standard Webhooks deliveries
// (https://www.standardwebhooks.com): the message ID travels in the
// webhook-id header (svix-id for Svix), and the JSON body holds type,
// timestamp and data. Verify them first with verify.NewStandard; the event
// ID is then exactly the ID the verifier checked the signature over, by one
// rule documented on Config.
package standardevent
