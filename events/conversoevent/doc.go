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
//
// Ordering positions a booking event for an ordering guard: its
// booking_id, its timestamp in milliseconds, and for one millisecond the
// booking's life (created, confirmed, rescheduled, cancelled). Reminders
// change no booking and are not ordered.
package conversoevent
