package redisstore_test

import (
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency/redisstore"
	"github.com/hookkit/hookkit/verify"
)

// Replicas that share a Redis deduplicate across one another. (This example
// needs a Redis server, so it is compiled but not run.)
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	store, err := redisstore.New(client, redisstore.Config{Prefix: "myapp:webhooks:"})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.NewStripe(os.Getenv("STRIPE_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	_ = dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithStore(store))
}
