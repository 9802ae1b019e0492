package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/events"
)

// letterStore is one dead-letter store, filled with n letters of bodies
// of pad bytes each, through a real Endpoint.
type letterStore struct {
	name  string
	store func(t *testing.T, n, pad int) dispatch.DeadLetterStore
}

func letterStores() []letterStore {
	permanent := func(context.Context, *events.Event) error {
		return dispatch.Permanent(errors.New("booking 12345 not found"))
	}
	var stores []letterStore
	for _, db := range []string{"sqlite", "postgres"} {
		stores = append(stores, letterStore{"sqltx/" + db, func(t *testing.T, n, pad int) dispatch.DeadLetterStore {
			tables, _ := relTables(t, db, 4)
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", permanent)
			ep := relEndpoint(t, nil, r, dispatch.WithAcceptor(tables.Acceptor()))
			for i := range n {
				rec := httptest.NewRecorder()
				ep.ServeHTTP(rec, relRequest(relBody(fmt.Sprintf("evt_letter_%03d", i), pad)))
				if rec.Code != http.StatusOK {
					t.Fatalf("dead-lettering: %d %s", rec.Code, rec.Body)
				}
			}
			return tables.DeadLetters()
		}})
		stores = append(stores, letterStore{"riverqueue/" + db, func(t *testing.T, n, pad int) dispatch.DeadLetterStore {
			r := dispatch.NewRouter()
			r.HandleFunc("payment_intent.succeeded", permanent)
			q := relRiverQueue(t, db, r, riverqueue.Config{})
			ep := relEndpoint(t, nil, r, dispatch.WithAcceptor(q))
			for i := range n {
				rec := httptest.NewRecorder()
				ep.ServeHTTP(rec, relRequest(relBody(fmt.Sprintf("evt_letter_%03d", i), pad)))
				if rec.Code != http.StatusOK {
					t.Fatalf("queueing: %d %s", rec.Code, rec.Body)
				}
			}
			if err := q.Start(relCtx); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for q.count(t, `SELECT COUNT(*) FROM river_job WHERE state = 'cancelled'`) < n {
				if time.Now().After(deadline) {
					t.Fatal("the workers did not dead-letter every job within 30s")
				}
				runtime.Gosched()
			}
			ctx, cancel := context.WithTimeout(relCtx, 10*time.Second)
			defer cancel()
			if err := q.Stop(ctx); err != nil { // nothing allocates beside the listing
				t.Fatal(err)
			}
			return q.DeadLetters()
		}})
	}
	return stores
}

// L1: a listing of dead letters reads none of their bodies, which a
// listing never shows: listing 20 letters of 900 KB allocates well under
// one of them, and Get still returns a letter whole. Before, every store
// loaded every body (120 letters of 900 KB moved a host from 50 to 298 MB
// for a 39 KB answer): here 18 MB or more per listing.
func TestDeadLetterListingsReadNoBodies(t *testing.T) {
	const n, pad = 20, 900_000
	for _, s := range letterStores() {
		t.Run(s.name, func(t *testing.T) {
			store := s.store(t, n, pad)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			page, err := store.List(relCtx, dispatch.DeadLetterFilter{Limit: 1000})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: listing %d letters of %d KB allocated %d KB", s.name, len(page.Letters), pad/1000, allocated/1000)
			if len(page.Letters) != n {
				t.Fatalf("%d letters listed, want %d", len(page.Letters), n)
			}
			if allocated > pad {
				t.Errorf("listing allocated %d bytes, more than one letter's body (%d): the bodies were read", allocated, pad)
			}
			for _, dl := range page.Letters {
				if len(dl.Event.Body) != 0 || len(dl.Event.Data) != 0 {
					t.Fatalf("%s listed with its body or payload", dl.Event.ID)
				}
				if dl.Event.ID == "" || dl.Event.Type != "payment_intent.succeeded" || dl.At.IsZero() || dl.Err == nil || dl.Attempts < 1 {
					t.Fatalf("listed letter lacks what a listing shows: %+v", dl)
				}
			}
			whole, err := store.Get(relCtx, page.Letters[0].Event.Key())
			if err != nil {
				t.Fatal(err)
			}
			if len(whole.Event.Body) < pad || len(whole.Event.Data) == 0 {
				t.Errorf("Get returned a body of %d bytes and a payload of %d; want the whole letter", len(whole.Event.Body), len(whole.Event.Data))
			}
		})
	}
}

// L2: a filter the database would refuse (a NUL, which PostgreSQL's text
// cannot hold; invalid UTF-8) is a bad request, 400, not a store that is
// unavailable (503 with Retry-After, before: an operator's tool retried
// it forever); a key no event can have is no dead letter, 404. Both
// listings, through the admin handler, on both databases.
func TestDeadLetterFiltersTheDatabaseRefusesAreBadRequests(t *testing.T) {
	for _, s := range letterStores() {
		t.Run(s.name, func(t *testing.T) {
			store := s.store(t, 1, 0)
			h, err := admin.New(admin.Config{Store: store, Authorize: admin.AllowAll})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				target string
				want   int
			}{
				{"/?source=%00", http.StatusBadRequest},
				{"/?type=payment%00", http.StatusBadRequest},
				{"/?source=%ff%fe", http.StatusBadRequest},
				{"/?after=1%3Astripe%3Aevt%00", http.StatusBadRequest},
				{"/stripe:evt%00", http.StatusNotFound},
				{"/?source=stripe", http.StatusOK},
			} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.target, nil))
				if rec.Code != c.want {
					t.Errorf("GET %s: %d %s; want %d", c.target, rec.Code, rec.Body, c.want)
				}
			}
			// The stores refuse such filters themselves, for hosts that
			// call them without the admin handler.
			_, err = store.List(relCtx, dispatch.DeadLetterFilter{Source: "\x00"})
			if !errors.Is(err, dispatch.ErrInvalidFilter) {
				t.Errorf("List with a NUL source: %v, want ErrInvalidFilter", err)
			}
		})
	}
}
