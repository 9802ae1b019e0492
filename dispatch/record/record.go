package record

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events/fixture"
)

var _ dispatch.Archive = (*Archive)(nil)

// Archive is a dispatch.Archive that writes every delivery it is told of
// under its directory in the testdata fixture format (package
// events/fixture), one .headers file and one body file each, named
// <source or "unparsed">/<time>-<seq>-<type or outcome>, so deliveries
// recorded in staging can be replayed in tests (package dispatch/replay);
// sorting the files by base name restores the order they arrived in, across
// sources. Write errors go to the Config's Logger.
//
// The files hold what the sender sent, signatures included; keep the
// directory as private as the secrets.
type Archive struct {
	path   string
	logger *slog.Logger

	seq atomic.Uint64
}

// Config configures an Archive. The zero value is ready to use.
type Config struct {
	// Logger receives the errors of writes (default slog.Default()).
	Logger *slog.Logger
}

// New returns the Archive writing under dir, which it creates (mode 0700)
// if it does not exist. An empty dir, or one that cannot be created, is an
// error wrapping dispatch.ErrInvalidConfig.
func New(dir string, cfg Config) (*Archive, error) {
	if dir == "" {
		return nil, fmt.Errorf("record: empty directory: %w", dispatch.ErrInvalidConfig)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("record: directory %q: %w: %w", dir, dispatch.ErrInvalidConfig, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Archive{path: dir, logger: cfg.Logger}, nil
}

// Archive implements dispatch.Archive.
func (a *Archive) Archive(ctx context.Context, d *dispatch.Delivery) {
	group, what := d.EventSource, d.EventType
	if d.EventID == "" { // not an event: kept apart from the replayable ones
		group = "unparsed"
	}
	if what == "" {
		what = d.Outcome.String()
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
	if err := fixture.Write(a.path, f); err != nil {
		a.logger.LogAttrs(ctx, slog.LevelError, "webhook archive: write failed", slog.String("error", err.Error()))
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
		s = s[:min(len(s), 100)] + "x"
	}
	return s
}
