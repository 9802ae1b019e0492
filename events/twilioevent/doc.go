// Package twilioevent parses Twilio's SMS/MMS and voice status callbacks,
// which Twilio posts as forms, into events typed by status
// (message.delivered, call.no-answer, ...), and decodes them into Go
// structs. Verify them first with verify.NewTwilio, which answers a forged
// callback with 403.
//
// Ordering positions a callback for an ordering guard: message callbacks
// by their status's rank (they carry no time), call callbacks by their
// SequenceNumber, with failed, undelivered and the end of a call final.
package twilioevent
