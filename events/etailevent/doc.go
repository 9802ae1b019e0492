// Package etailevent parses Etail Depot style events, {"id", "type",
// "created", "data": {"object": ...}}, with the generic JSON parser, and
// names their types: payment.*, order.*, account.updated, card.issued and
// transaction.created. Etail Depot signs its deliveries with an hex
// HMAC-SHA256 in the Etail-Signature header:
//
//	v, _ := verify.NewHMAC(secret, "Etail-Signature")
package etailevent
