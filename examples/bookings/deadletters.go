package main

import (
	"context"
	"strings"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events/twilioevent"
)

// deadLetterStores is the backend's two dead-letter stores as one: the
// bookings database's (Stripe, GoConverso and Etail events, dispatch/sqltx)
// and River's (Twilio's callbacks, dispatch/riverqueue), chosen by the
// event's source. A listing of both gives the database's letters first,
// then River's; its cursor says which store it is in.
type deadLetterStores struct {
	db, sms dispatch.DeadLetterStore
}

func (s *deadLetterStores) of(key string) dispatch.DeadLetterStore {
	if source, _, _ := strings.Cut(key, ":"); source == twilioevent.Source {
		return s.sms
	}
	return s.db
}

// List implements dispatch.DeadLetterStore.
func (s *deadLetterStores) List(ctx context.Context, f dispatch.DeadLetterFilter) (dispatch.DeadLetterPage, error) {
	store, next := s.db, "sms:"
	cursor, inSMS := strings.CutPrefix(f.After, "sms:")
	switch {
	case f.Source == twilioevent.Source || inSMS:
		store, next = s.sms, ""
	case f.Source != "":
		next = ""
	default:
		cursor = strings.TrimPrefix(f.After, "db:")
	}
	f.After = cursor
	page, err := store.List(ctx, f)
	switch {
	case err != nil:
	case page.Next != "" && store == s.sms:
		page.Next = "sms:" + page.Next
	case page.Next != "":
		page.Next = "db:" + page.Next
	default:
		page.Next = next // the database's letters are done: River's next, if listing both
	}
	return page, err
}

// Get implements dispatch.DeadLetterStore.
func (s *deadLetterStores) Get(ctx context.Context, key string) (dispatch.DeadLetter, error) {
	return s.of(key).Get(ctx, key)
}

// Rerun implements dispatch.DeadLetterStore.
func (s *deadLetterStores) Rerun(ctx context.Context, r *dispatch.Router, key string) error {
	return s.of(key).Rerun(ctx, r, key)
}

// Discard implements dispatch.DeadLetterStore.
func (s *deadLetterStores) Discard(ctx context.Context, key string) error {
	return s.of(key).Discard(ctx, key)
}
