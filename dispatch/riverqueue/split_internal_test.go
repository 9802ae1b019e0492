package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
)

// sqlState is an error as pgx reports PostgreSQL's.
type sqlState string

func (s sqlState) Error() string    { return "ERROR: SQLSTATE " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

// sqliteCode is an error as modernc.org/sqlite reports SQLite's.
type sqliteCode int

func (c sqliteCode) Error() string { return fmt.Sprintf("sqlite error %d", int(c)) }
func (c sqliteCode) Code() int     { return int(c) }

// A row's data the database refuses is told apart from a database that
// could not answer by the error's code, whatever its text.
func TestRefusedRowIsReadFromTheCode(t *testing.T) {
	for _, c := range []struct {
		err    error
		sqlite bool
		want   bool
	}{
		{fmt.Errorf("insert: %w", sqlState("22P05")), false, true}, // untranslatable character: a NUL in jsonb
		{sqlState("22021"), false, true},                           // invalid byte sequence
		{sqlState("22008"), false, true},                           // datetime field overflow
		{sqlState("23514"), false, true},                           // check violation
		{sqlState("23502"), false, true},                           // not null violation
		{sqlState("54000"), false, true},                           // program limit exceeded
		{sqlState("23505"), false, false},                          // unique violation: another row's doing
		{sqlState("40P01"), false, false},                          // deadlock
		{sqlState("57014"), false, false},                          // query canceled
		{sqlState("08006"), false, false},                          // connection failure
		{errors.New("ERROR: invalid input syntax (SQLSTATE 22P02)"), false, false},
		{context.DeadlineExceeded, false, false},
		{fmt.Errorf("insert: %w", sqliteCode(18)), true, true}, // SQLITE_TOOBIG
		{sqliteCode(20), true, true},                           // SQLITE_MISMATCH
		{sqliteCode(275), true, true},                          // SQLITE_CONSTRAINT_CHECK
		{sqliteCode(1299), true, true},                         // SQLITE_CONSTRAINT_NOTNULL
		{sqliteCode(1811), true, true},                         // SQLITE_CONSTRAINT_TRIGGER
		{sqliteCode(2067), true, false},                        // SQLITE_CONSTRAINT_UNIQUE
		{sqliteCode(5), true, false},                           // SQLITE_BUSY
		{sqliteCode(1), true, false},                           // SQLITE_ERROR
		{sqliteCode(18), false, false},                         // a code, but not SQLite's database
	} {
		if got := refusedRow(c.err, c.sqlite); got != c.want {
			t.Errorf("%v (sqlite %t): refused %t, want %t", c.err, c.sqlite, got, c.want)
		}
	}
}

// refusingInserts fails a batch that holds a poisoned key with a data
// exception, as PostgreSQL does for the whole multi-row insert, and
// records every batch it was given.
type refusingInserts struct {
	mu      sync.Mutex
	batches [][]string
	err     error // what a batch with a poisoned key fails with
}

func (f *refusingInserts) insert(_ context.Context, params []river.InsertManyParams) ([]bool, error) {
	var keys []string
	for _, p := range params {
		keys = append(keys, p.Args.(storedArgs).Key)
	}
	f.mu.Lock()
	f.batches = append(f.batches, keys)
	f.mu.Unlock()
	if slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, "poison") }) {
		return nil, fmt.Errorf("ERROR: unsupported Unicode escape sequence: %w", f.err)
	}
	return make([]bool, len(keys)), nil
}

// A batch the database refuses for one row's data is split until that
// row is alone: it is answered 400 (malformed, wrapping
// events.ErrMalformedEvent), every other delivery of the batch is
// answered for itself. A batch that fails otherwise is 503 for all.
func TestRefusedBatchIsSplitUntilTheRowIsAlone(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want func(key string) dispatch.Outcome
	}{
		{"data exception", sqlState("22P05"), func(key string) dispatch.Outcome {
			if strings.Contains(key, "poison") {
				return dispatch.OutcomeMalformed
			}
			return dispatch.OutcomeDuplicate // refusingInserts reports every job as existing
		}},
		{"connection lost", sqlState("08006"), func(string) dispatch.Outcome { return dispatch.OutcomeUnavailable }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &refusingInserts{err: c.err}
			b := &batcher{insert: f.insert, refused: func(err error) bool { return refusedRow(err, false) }, size: 100}
			var batch []*ackRequest
			for i := range 16 {
				key := fmt.Sprintf("stripe:evt_%02d", i)
				if i == 11 {
					key = "stripe:evt_poison"
				}
				batch = append(batch, &ackRequest{key: key, params: river.InsertManyParams{Args: storedArgs{Key: key}}, done: make(chan dispatch.Result, 1)})
			}
			b.flush(batch)
			for _, r := range batch {
				res := <-r.done
				if want := c.want(r.key); res.Outcome != want {
					t.Errorf("%s: %s (%v), want %s", r.key, res.Outcome, res.Err, want)
				}
				if res.Outcome == dispatch.OutcomeMalformed && !errors.Is(res.Err, events.ErrMalformedEvent) {
					t.Errorf("%s: %v does not wrap events.ErrMalformedEvent", r.key, res.Err)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if c.name == "data exception" && len(f.batches) > 2*5+1 {
				t.Errorf("%d inserts to isolate one row of 16: %v", len(f.batches), f.batches)
			}
		})
	}
}

// Each job's args are checked before it joins a batch: a time JSON cannot
// hold (a +24:00 offset, which time.Parse accepts) or a NUL (which jsonb
// refuses) is the delivery's own error, wrapping events.ErrMalformedEvent;
// the args of an insertable event encode as River encodes them, and read
// back as the event.
func TestArgsAreCheckedBeforeTheBatch(t *testing.T) {
	good := &events.Event{Source: "twilio", ID: "SM1:delivered", Type: "message.delivered", Body: []byte("MessageSid=SM1"),
		Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 23*60*60))}
	for _, c := range []struct {
		name string
		edit func(e *events.Event)
		ok   bool
	}{
		{"storable", func(*events.Event) {}, true},
		{"+24:00 offset", func(e *events.Event) { e.Time = time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*60*60)) }, false},
		{"year 10000", func(e *events.Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, false},
		{"NUL in the source", func(e *events.Event) { e.Source = "twi\x00lio" }, false},
		{"NUL in a kept header", func(e *events.Event) { e.Header = http.Header{"Content-Type": {"text/plain\x00"}} }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := *good
			c.edit(&e)
			args, err := argsOf(&e).insertable()
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, events.ErrMalformedEvent)) {
				t.Fatalf("insertable: %v, want ok %t (or events.ErrMalformedEvent)", err, c.ok)
			}
			if !c.ok {
				return
			}
			encoded, err := json.Marshal(args) // as River encodes it
			if err != nil {
				t.Fatalf("River's encoding of insertable args: %v", err)
			}
			var back jobArgs
			if err := json.Unmarshal(encoded, &back); err != nil || !back.event().Time.Equal(e.Time) || back.Key != e.Key() {
				t.Errorf("decoded back: %+v, %v", back, err)
			}
		})
	}
}

// A delivery whose context ends while it waits for a batch is withdrawn
// from it, having done nothing: the batch that follows does not write it.
// One that a batch has taken is answered with what that batch did.
func TestDeliveryWithdrawnBeforeItsBatch(t *testing.T) {
	f := &fakeInserts{exists: map[string]bool{}, release: make(chan struct{})}
	writing := make(chan struct{}, 4)
	b := &batcher{insert: func(ctx context.Context, params []river.InsertManyParams) ([]bool, error) {
		writing <- struct{}{}
		return f.insert(ctx, params)
	}, size: 100}
	first := request("stripe:evt_first")
	b.submit(first) // written at once, and held there
	<-writing
	late, kept := request("stripe:evt_late"), request("stripe:evt_kept")
	b.submit(late)
	b.submit(kept)
	if !b.withdraw(late) {
		t.Fatal("a delivery still pending was not withdrawn")
	}
	if b.withdraw(first) {
		t.Fatal("a delivery its batch had taken was withdrawn")
	}
	close(f.release)
	if res := <-first.done; res.Outcome != dispatch.OutcomeQueued {
		t.Errorf("the taken delivery: %s", res.Outcome)
	}
	if res := <-kept.done; res.Outcome != dispatch.OutcomeQueued {
		t.Errorf("the delivery behind it: %s", res.Outcome)
	}
	b.stop()
	select {
	case res := <-late.done:
		t.Errorf("the withdrawn delivery was answered %s", res.Outcome)
	default:
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, batch := range f.batches {
		if slices.Contains(batch, "stripe:evt_late") {
			t.Errorf("the withdrawn delivery was written: %v", f.batches)
		}
	}
}
