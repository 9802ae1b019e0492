// Package etailevent parses Etail Depot style events, {"id", "type",
// "created", "data": {"object": ...}, "request"}, with the generic JSON
// parser, and names the types Etail Depot documents: payment.succeeded,
// payment.failed, payment.refunded, order.created, order.fulfilled,
// order.cancelled, account.updated, card.issued and transaction.created.
// Payment follows Etail Depot's documented payment object (its customer an
// object); the top-level request, outside data.object, is read on demand
// with EnvelopeOf. Etail Depot signs its deliveries with a hex HMAC-SHA256
// in the Etail-Signature header:
//
//	v, _ := verify.NewHMAC(secret, "Etail-Signature")
//
// Ordering positions an event for an ordering guard: its object
// (data.object.id), its created second, and for one second its payment's
// or order's status.
package etailevent
