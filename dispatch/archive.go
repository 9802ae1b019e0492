package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/events/fixture"
)

// Delivery is one request an Endpoint answered, for an Archive: what came
// in, what it was, and what the sender was told.
type Delivery struct {
	Received time.Time
	Duration time.Duration
	Method   string
	Host     string
	Target   string // the request target: path and query as received
	Header   http.Header
	// Body is the raw body; nil if it was not read (over the limit).
	Body []byte
	// Verified reports whether the signature held. Archives are told of
	// deliveries that did not verify only with WithArchiveRejected.
	Verified bool
	// EventSource, EventID and EventType are set once the body parsed.
	EventSource, EventID, EventType string
	Status                          int
	// Outcome names what happened: processed, queued, duplicate, busy,
	// unknown-type, dead-lettered, failed, rejected-signature,
	// malformed, too-large, method-not-allowed, unavailable.
	Outcome string
	// Err is the error behind a non-2xx status or a dead letter.
	Err error
}

// Archive is told of every delivery whose signature verified (and, with
// WithArchiveRejected, of the others), after the sender has been answered: for debugging and auditing ("what exactly did Stripe send
// us at 03:12?"). Archive must not keep d.Body or d.Header beyond the call
// without copying, and should be quick; it cannot fail the delivery.
type Archive interface {
	Archive(ctx context.Context, d *Delivery)
}

// DirArchive writes every delivery it is told of to Dir in the testdata fixture format
// (package events/fixture), one .headers file and one body file each, named
// <source or "unparsed">/<time>-<seq>-<type or outcome>, so deliveries
// recorded in staging can be replayed in tests; sorting the files by base
// name restores the order they arrived in, across sources. Write errors go
// to Logger.
//
// The files hold what the sender sent, signatures included; keep the
// directory as private as the secrets.
type DirArchive struct {
	Dir    string
	Logger *slog.Logger // default slog.Default()

	seq atomic.Uint64
}

// Archive implements Archive.
func (a *DirArchive) Archive(ctx context.Context, d *Delivery) {
	group, what := d.EventSource, d.EventType
	if group == "" {
		group = "unparsed"
	}
	if what == "" {
		what = d.Outcome
	}
	f := fixture.Fixture{
		Name:    fmt.Sprintf("%s/%s-%06d-%s", safeName(group), d.Received.UTC().Format("20060102T150405.000Z"), a.seq.Add(1), safeName(what)),
		Method:  d.Method,
		Target:  d.Target,
		Header:  d.Header.Clone(),
		Body:    d.Body,
		BodyExt: fixture.BodyExtFor(d.Header.Get("Content-Type")),
	}
	if f.Header == nil {
		f.Header = http.Header{}
	}
	if d.Host != "" {
		f.Header.Set("Host", d.Host)
	}
	if err := fixture.Write(a.Dir, f); err != nil {
		logger := a.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.LogAttrs(ctx, slog.LevelError, "webhook archive: write failed", slog.String("error", err.Error()))
	}
}

// safeName keeps letters, digits, '.', '_' and '-', so names from a sender
// cannot climb out of the archive directory.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
	s = strings.Trim(s, ".")
	if s == "" || len(s) > 100 {
		s = strings.TrimSpace(s[:min(len(s), 100)]) + "x"
	}
	return s
}
