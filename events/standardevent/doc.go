// Package standardevent parses Standard Webhooks deliveries
// (https://www.standardwebhooks.com): the message ID travels in the
// webhook-id header (svix-id for Svix), and the JSON body holds type,
// timestamp and data. Verify them first with verify.NewStandard.
package standardevent
