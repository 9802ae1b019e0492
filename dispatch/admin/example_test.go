package admin_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/admin"
	"github.com/hookkit/hookkit/events"
)

func ExampleNew() {
	r := dispatch.NewRouter()
	r.HandleFunc("booking.reminder", func(context.Context, *events.Event) error { return nil }) // fixed since
	dls := dispatch.NewMemoryDeadLetters(0)
	e := &events.Event{Source: "goconverso", ID: "msg_1", Type: "booking.reminder"}
	if err := dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no reminder template"), Attempts: 1,
		At: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}); err != nil {
		log.Fatal(err)
	}
	h, err := admin.New(admin.Config{
		Store:   dls,
		Routers: map[string]*dispatch.Router{"goconverso": r},
		// The host's own check; this one trusts a header only for the example.
		Authorize: func(r *http.Request) bool { return r.Header.Get("X-Operator") == "alice" },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/dead-letters/", http.StripPrefix("/admin/dead-letters", h))

	call := func(method, target string) {
		req := httptest.NewRequest(method, target, strings.NewReader("{}"))
		req.Header.Set("X-Operator", "alice")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(method, target, rec.Code)
	}
	call(http.MethodGet, "/admin/dead-letters/")
	call(http.MethodPost, "/admin/dead-letters/goconverso:msg_1/rerun")
	call(http.MethodGet, "/admin/dead-letters/goconverso:msg_1")
	// Output:
	// GET /admin/dead-letters/ 200
	// POST /admin/dead-letters/goconverso:msg_1/rerun 200
	// GET /admin/dead-letters/goconverso:msg_1 404
}
