package order_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/events"
)

// recorder is a Driver that records the statements it runs and answers
// each query with the next of its rows.
type recorder struct {
	queries *[]string
	rows    *[]scanned
}

// scanned is one query's answer: the advance's columns, or err.
type scanned struct {
	values []any
	err    error
}

func (recorder) Begin(context.Context) (tx, error)   { return tx{}, nil }
func (recorder) End(context.Context, tx, bool) error { return nil }

func (r recorder) Exec(_ context.Context, _ tx, query string, _ ...any) (int64, error) {
	*r.queries = append(*r.queries, query)
	return 0, nil
}

func (r recorder) QueryRow(_ context.Context, _ tx, query string, _ ...any) order.Row {
	*r.queries = append(*r.queries, query)
	if len(*r.rows) == 0 {
		return scanned{err: errors.New("a query the test did not expect: " + query)}
	}
	next := (*r.rows)[0]
	*r.rows = (*r.rows)[1:]
	return next
}

func (s scanned) Scan(dest ...any) error {
	if s.err != nil {
		return s.err
	}
	for i, v := range s.values {
		n, valid := v.(int64)
		*dest[i].(*sql.NullInt64) = sql.NullInt64{Int64: n, Valid: valid}
	}
	if len(dest) > len(s.values) {
		*dest[len(s.values)].(*int64) = 0 // no event kept
	}
	return nil
}

// ClaimAdvance's statement claims the key and advances the object; the
// handler's Advance of the same object and position is then answered
// without a statement, and any other Advance runs its own.
func TestClaimAdvanceAnswersTheHandlersAdvance(t *testing.T) {
	ctx := context.Background()
	pos := events.Position{At: 2000, Rank: 2}
	claim := `WITH lock AS (SELECT 1) INSERT INTO keys (key) SELECT $1 FROM lock RETURNING 1`
	for _, tt := range []struct {
		name        string
		dialect     order.Dialect
		rows        []scanned
		claimed     bool
		err         error
		last        events.Position
		found       bool
		statements  int // ClaimAdvance's and Advance's
		fusedClaims int // of them, the claim's statement
	}{
		// The row held position 1000/1 before: pos is newer.
		{"claimed", order.Postgres, []scanned{{values: []any{int64(2000), int64(2), int64(1000), int64(1)}}}, true, nil,
			events.Position{At: 1000, Rank: 1}, true, 1, 1},
		// The claim took nothing (a duplicate): the guard is as new.
		{"not claimed", order.Postgres, []scanned{{err: sql.ErrNoRows}, {values: []any{int64(2000), int64(2), int64(1000), int64(1)}}},
			false, nil, events.Position{At: 1000, Rank: 1}, true, 2, 1},
		{"SQLite", order.SQLite, []scanned{{values: []any{int64(2000), int64(2), int64(1000), int64(1)}}},
			false, dispatch.ErrInvalidConfig, events.Position{At: 1000, Rank: 1}, true, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var queries []string
			rows := tt.rows
			tables, err := order.New[tx](recorder{&queries, &rows}, tt.dialect, order.Config{})
			if err != nil {
				t.Fatal(err)
			}
			g := tables.Guard(tx{})
			claimed, err := g.ClaimAdvance(ctx, claim, []any{"stripe:evt_1"}, "stripe", "pi_1", pos)
			if claimed != tt.claimed || !errors.Is(err, tt.err) {
				t.Fatalf("ClaimAdvance: got %v, %v; want %v, %v", claimed, err, tt.claimed, tt.err)
			}
			last, found, err := g.Advance(ctx, "stripe", "pi_1", pos)
			if err != nil || last != tt.last || found != tt.found {
				t.Fatalf("Advance: got %+v, %v, %v; want %+v, %v", last, found, err, tt.last, tt.found)
			}
			fused := 0
			for _, q := range queries {
				if strings.HasPrefix(q, "WITH claim AS (\n"+claim+"\n)") {
					fused++
				}
			}
			if len(queries) != tt.statements || fused != tt.fusedClaims {
				t.Errorf("statements: got %d (%d claiming), want %d (%d claiming):\n%s", len(queries), fused, tt.statements, tt.fusedClaims, strings.Join(queries, "\n---\n"))
			}
		})
	}
}

// A preset answers one Advance, of its own object and position: an
// Advance of another position, or a second one of its own, runs a
// statement.
func TestClaimAdvanceAnswersOnlyItsOwnAdvance(t *testing.T) {
	ctx := context.Background()
	pos := events.Position{At: 2000, Rank: 2}
	for _, tt := range []struct {
		name     string
		advances []events.Position
	}{
		{"another position", []events.Position{{At: 3000}, {At: 3000}}},
		{"its own, twice", []events.Position{pos, pos}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var queries []string
			rows := []scanned{{values: []any{int64(2000), int64(2), nil, nil}},
				{values: []any{int64(3000), int64(0), int64(2000), int64(2)}}, {values: []any{int64(3000), int64(0), int64(2000), int64(2)}}}
			tables, err := order.New[tx](recorder{&queries, &rows}, order.Postgres, order.Config{})
			if err != nil {
				t.Fatal(err)
			}
			g := tables.Guard(tx{})
			if claimed, err := g.ClaimAdvance(ctx, "INSERT INTO keys (key) VALUES ($1) RETURNING 1", []any{"k"}, "stripe", "pi_1", pos); !claimed || err != nil {
				t.Fatalf("ClaimAdvance: %v, %v", claimed, err)
			}
			for _, p := range tt.advances {
				if _, _, err := g.Advance(ctx, "stripe", "pi_1", p); err != nil {
					t.Fatal(err)
				}
			}
			want := 3 // the claim's, and one per Advance the preset does not answer
			if tt.advances[0] == pos {
				want = 2
			}
			if len(queries) != want {
				t.Errorf("statements: got %d, want %d", len(queries), want)
			}
		})
	}
}
