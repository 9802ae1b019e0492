package order_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/events"
)

// printer is a Driver that prints the statements it is given, for the
// example: a real one runs them (dispatch/sqltx's on database/sql,
// dispatch/pgxtx's on pgx, dispatch/riverqueue's on River's driver).
type printer struct{}

type tx struct{}

func (printer) Begin(context.Context) (tx, error)                       { return tx{}, nil }
func (printer) End(context.Context, tx, bool) error                     { return nil }
func (printer) Exec(context.Context, tx, string, ...any) (int64, error) { return 0, nil }

func (printer) QueryRow(_ context.Context, _ tx, query string, args ...any) order.Row {
	fmt.Println(strings.SplitN(query, "\n", 2)[0])
	fmt.Println(args...)
	return row{}
}

// row ends the example where a database would return the object's
// position, the one before it and how many events are kept for it.
type row struct{}

func (row) Scan(dest ...any) error { return errors.New("the example stops here") }

// The guard's one statement per ordered event: an upsert on the object's
// row that records the event's position unless it is older, and holds the
// row's lock until the transaction ends.
func ExampleTables_Guard() {
	tables, err := order.New[tx](printer{}, order.Postgres, order.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	g := tables.Guard(tx{})
	_, _, err = g.Advance(context.Background(), "goconverso", "b7e8f9a0", events.Position{At: 1769956200000, Rank: 1})
	fmt.Println(err != nil)

	_, err = order.New[tx](printer{}, order.Postgres, order.Config{KeptTable: "kept; DROP TABLE x"})
	fmt.Println(errors.Is(err, dispatch.ErrInvalidConfig))
	// Output:
	// INSERT INTO hookkit_positions (source, object, pos_at, pos_rank) VALUES ($1, $2, $3, $4)
	// goconverso b7e8f9a0 1769956200000 1
	// true
	// true
}
