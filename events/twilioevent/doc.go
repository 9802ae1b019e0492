// Package twilioevent parses Twilio's SMS/MMS and voice status callbacks,
// which Twilio posts as forms, into events typed by status
// (message.delivered, call.no-answer, ...), and decodes them into Go
// structs. Verify them first with verify.NewTwilio, which answers a forged
// callback with 403.
package twilioevent
