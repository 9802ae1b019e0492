package pgxstore_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency/pgxstore"
	"github.com/hookkit/hookkit/verify"
)

// A service on pgxpool shares its idempotency keys between replicas with no
// database/sql in sight. (It needs a PostgreSQL server, so it is compiled
// but not run.)
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := pgxstore.New(pool, pgxstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	v, err := verify.NewStripe(os.Getenv("STRIPE_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	_ = dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithStore(store))
}
