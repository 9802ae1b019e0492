// Package conversoevent parses GoConverso booking events, {"event",
// "timestamp", "data"}, with the generic JSON parser, and names them:
// booking.created, booking.confirmed, booking.cancelled,
// booking.rescheduled and booking.reminder. GoConverso events carry no ID;
// the parser derives a stable one from their content.
package conversoevent
