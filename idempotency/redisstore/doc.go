// Package redisstore is an idempotency.Store on Redis, for applications that
// run several replicas: every replica claims keys in the same Redis, so a
// delivery retried to another replica is still recognised.
//
// Each operation is one round trip: a Lua script that runs SET NX PX to
// claim (returning the holder's state and remaining lease when the key is
// taken), or compares the token before completing or releasing. Lease and
// keep expiry run on Redis's own clock (PX), so replicas with skewed clocks
// agree.
//
// go-redis retries a command whose reply was lost on the network, with the
// same arguments; a retried Claim that finds its own lease answers Acquired.
// A retried Complete or Release finds its work done and answers
// ErrLeaseLost, as the [Store] contract says of a second call; the key is
// completed or released all the same.
//
// Keys are single-slot, so it works with redis.Client, a cluster
// (redis.ClusterClient), sentinel failover clients and redis.UniversalClient
// alike.
package redisstore
