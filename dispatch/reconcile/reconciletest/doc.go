// Package reconciletest is a local server that speaks the two APIs
// package dispatch/reconcile reads, as their senders document them, for
// tests of a host's reconciliation:
//
//   - Stripe's List Events, GET /v1/events: newest first; filtered by
//     created[gte], created[gt], created[lte], created[lt], type (with a
//     "*" wildcard) or types (up to 20, not both); paged with limit
//     (1 to 100, default 10), starting_after and has_more; authorised by
//     the key as a bearer token (or basic user).
//   - Twilio's Messages, GET /2010-04-01/Accounts/{AccountSid}/Messages.json:
//     newest sent first; filtered by DateSent, "DateSent>" (on or after)
//     and "DateSent<" (on or before); paged with PageSize (default 50,
//     at most 1000), Page and PageToken, next_page_uri null on the last
//     page; authorised with basic auth (the account SID and auth token).
//
// Both answer 429 with Retry-After when told to (RateLimit), and 401 to a
// wrong key. The server records the requests it served (Requests), so a
// test can check what was asked for.
package reconciletest
