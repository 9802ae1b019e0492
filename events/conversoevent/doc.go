// Package conversoevent parses GoConverso booking events, {"event",
// "timestamp", "data"}, and names them: booking.created,
// booking.confirmed, booking.cancelled, booking.rescheduled and
// booking.reminder, each decoding into a Booking as GoConverso documents
// it.
//
// GoConverso's bodies carry no ID, so the parser depends on how they are
// signed:
//
//   - with an HMAC of the body (verify.NewHMAC), NewParser derives a
//     stable ID from the content, the same on every retry, and reads no
//     header;
//   - with Standard Webhooks (verify.NewStandard), NewStandardParser takes
//     the signed message ID from the webhook-id (or svix-id) header.
package conversoevent
