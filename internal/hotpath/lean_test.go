package hotpath_test

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
)

// leanBatch bounds a lean batch, as riverqueue.DefaultBatchSize does
// hookkit's.
const leanBatch = 100

// lean is the leanest durable receiver a user could write by hand on
// River: the floor's pre-keyed HMAC check, the event ID found by a byte
// scan of the body, and a group commit of its own, flushers goroutines
// each taking what is pending (up to leanBatch) into one River InsertMany
// (one transaction), every delivery answered 200 after its batch's
// commit. Its job holds the key, unique, and the body as it arrived
// (JSON). It does not keep the headers, the type or the time, nor split a
// batch the database refuses, nor bound a delivery's wait.
type lean[TTx any] struct {
	client  *river.Client[TTx]
	check   *floor
	pending chan *leanAck
	done    sync.WaitGroup
}

type leanAck struct {
	params river.InsertManyParams
	done   chan error
}

type leanArgs struct {
	Key  string          `json:"key" river:"unique"`
	Body json.RawMessage `json:"body"`
}

func (leanArgs) Kind() string { return "lean.webhook" }

var leanUnique = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}

func newLean[TTx any](driver riverdriver.Driver[TTx], flushers int) (*lean[TTx], error) {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, err
	}
	client, err := river.NewClient(driver, &river.Config{})
	if err != nil {
		return nil, err
	}
	l := &lean[TTx]{client: client, check: newFloor(func() {}), pending: make(chan *leanAck, 4*leanBatch)}
	for range flushers {
		l.done.Go(l.flush)
	}
	return l, nil
}

func (l *lean[TTx]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "read", http.StatusRequestEntityTooLarge)
		return
	}
	if !l.check.check(r.Header.Get("Stripe-Signature"), body) {
		http.Error(w, "signature", http.StatusBadRequest)
		return
	}
	id, ok := jsonID(body)
	if !ok {
		http.Error(w, "no event id", http.StatusBadRequest)
		return
	}
	ack := &leanAck{
		params: river.InsertManyParams{Args: leanArgs{Key: "stripe:" + id, Body: body}, InsertOpts: leanUnique},
		done:   make(chan error, 1),
	}
	l.pending <- ack
	if err := <-ack.done; err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// flush writes batches until pending closes.
func (l *lean[TTx]) flush() {
	batch := make([]*leanAck, 0, leanBatch)
	params := make([]river.InsertManyParams, 0, leanBatch)
	for first := range l.pending {
		batch = append(batch[:0], first)
	more:
		for len(batch) < leanBatch {
			select {
			case a, ok := <-l.pending:
				if !ok {
					break more
				}
				batch = append(batch, a)
			default:
				break more
			}
		}
		params = params[:0]
		for _, a := range batch {
			params = append(params, a.params)
		}
		_, err := l.client.InsertMany(ctx, params)
		for _, a := range batch {
			a.done <- err
		}
	}
}

func (l *lean[TTx]) stop() {
	close(l.pending)
	l.done.Wait()
}
