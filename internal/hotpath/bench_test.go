package hotpath_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/internal/hotpath/internal/servicetest"
)

// warmup deliveries precede each measurement: connections open, pools and
// the heap at their working size.
const warmup = 1000

// measured returns how many deliveries one measurement counts: 10,000,
// or HOOKKIT_HOTPATH_DELIVERIES.
func measured(tb testing.TB) int {
	if s := os.Getenv("HOOKKIT_HOTPATH_DELIVERIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tb.Fatalf("HOOKKIT_HOTPATH_DELIVERIES=%q: want a positive number", s)
		}
		return n
	}
	return 10000
}

// measurement is one server's run: what its senders saw and what it
// measured of itself, over n deliveries.
type measurement struct {
	n     int
	load  loadResult
	stats serverStats
}

func (m measurement) cpuPerDelivery() float64 {
	return float64(m.stats.cpu.Nanoseconds()) / float64(m.n)
}
func (m measurement) allocsPerDelivery() float64 {
	return float64(m.stats.mallocs) / float64(m.n)
}

// measure starts a server of kind on database in a process of its own,
// warms it up, and measures n deliveries from 16 senders. It fails unless
// every delivery was answered 200 and handled (its handler ran, or its
// job is in the database).
func measure(tb testing.TB, kind, database string, n int) measurement {
	tb.Helper()
	p := startServer(tb, kind, database)
	reqs := deliveries(tb, warmup+n)
	post(tb, p.addr, reqs[:warmup])
	if got := p.command(tb, "start"); got != "started" {
		tb.Fatalf("start: %q", got)
	}
	load := post(tb, p.addr, reqs[warmup:])
	stats := p.stop(tb)
	p.exit(tb)
	if stats.handled != int64(len(reqs)) {
		tb.Fatalf("%s: %d deliveries answered 200, %d handled", kind, len(reqs), stats.handled)
	}
	return measurement{n: n, load: load, stats: stats}
}

// BenchmarkHTTP measures, over loopback HTTP with 16 senders, in one
// round, one server after the other, each in a process of its own: the
// floor (read the body, pre-keyed HMAC check of Stripe-Signature, 200),
// hookkit's Endpoint with a typed *stripe.PaymentIntent handler and with a
// raw-event handler (Stripe's verifier and parser, the memory store,
// nothing logged), and the handler users write with stripe-go. Per server
// it reports its CPU time per delivery (getrusage, user + system, every
// thread, GC included) in ns, its allocations per delivery, and the
// deliveries per second; and each one's CPU against the floor's, of the
// same round. ns/op is a whole round's time: ignore it.
//
//	go test -run '^$' -bench HTTP -benchtime 1x -count 5 ./internal/hotpath
func BenchmarkHTTP(b *testing.B) {
	n := measured(b)
	kinds := []string{kindFloor, kindTyped, kindRaw, kindStripeGo}
	for b.Loop() {
		round := map[string]measurement{}
		for _, kind := range kinds {
			round[kind] = measure(b, kind, "", n)
		}
		floor := round[kindFloor].cpuPerDelivery()
		for _, kind := range kinds {
			m := round[kind]
			b.ReportMetric(m.cpuPerDelivery(), kind+"-ns/delivery")
			b.ReportMetric(m.allocsPerDelivery(), kind+"-allocs/delivery")
			b.ReportMetric(m.load.rate(), kind+"-deliveries/s")
			if kind != kindFloor {
				b.ReportMetric(m.cpuPerDelivery()/floor, kind+"/floor")
			}
		}
	}
}

// BenchmarkRiverAck measures the durable acknowledgement over loopback
// HTTP with 16 senders, on PostgreSQL and on SQLite, in one round: the
// lean hand-written group commit (the floor's HMAC check, the event ID by
// a byte scan, River's InsertMany of what is pending, two flushers,
// batches of at most 100) and hookkit's
// Endpoint on a riverqueue.Queue (group commit, its defaults). Each server
// runs in a process of its own on fresh tables, with no workers; every 200
// must have its job. It reports acknowledgements per second, the
// latency's p50 and p99 as the senders saw it, the server's CPU per
// acknowledgement, on PostgreSQL also its backends' CPU per
// acknowledgement (from /proc, the database running on this machine) and
// the sum of the two, and hookkit's rate against the lean one's.
//
//	go test -run '^$' -bench RiverAck -benchtime 1x -count 5 ./internal/hotpath
func BenchmarkRiverAck(b *testing.B) {
	n := measured(b)
	kinds := []string{kindLean, kindHookkit}
	for _, database := range []string{"postgres", "sqlite"} {
		b.Run(database, func(b *testing.B) {
			for b.Loop() {
				round := map[string]measurement{}
				for _, kind := range kinds {
					var db string
					switch database {
					case "postgres":
						db = postgresSchemaURL(b)
					case "sqlite":
						db = "sqlite:" + filepath.Join(b.TempDir(), kind+".db")
					}
					round[kind] = measure(b, kind, db, n)
				}
				for _, kind := range kinds {
					m := round[kind]
					b.ReportMetric(m.load.rate(), kind+"-acks/s")
					b.ReportMetric(float64(m.load.percentile(0.50).Microseconds())/1000, kind+"-p50-ms")
					b.ReportMetric(float64(m.load.percentile(0.99).Microseconds())/1000, kind+"-p99-ms")
					b.ReportMetric(m.cpuPerDelivery(), kind+"-ns/ack")
					if database == "postgres" {
						db := float64(m.stats.dbCPU.Nanoseconds()) / float64(m.n)
						b.ReportMetric(db, kind+"-db-ns/ack")
						b.ReportMetric(m.cpuPerDelivery()+db, kind+"-total-ns/ack")
					}
					b.ReportMetric(m.allocsPerDelivery(), kind+"-allocs/ack")
				}
				b.ReportMetric(round[kindHookkit].load.rate()/round[kindLean].load.rate(), "hookkit/lean")
			}
		})
	}
}

// postgresSchemaURL returns the test database's URL with a schema of its
// own on the search path, dropped when the benchmark ends.
func postgresSchemaURL(tb testing.TB) string {
	base := servicetest.ServiceURL(tb, servicetest.PostgresURLEnv)
	schema := servicetest.RandomName("hookkit_hotpath_")
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(admin.Close)
	if err := admin.Ping(ctx); err != nil {
		servicetest.Unreachable(tb, "PostgreSQL does not answer: "+err.Error())
	}
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	query := u.Query()
	query.Set("search_path", schema)
	u.RawQuery = query.Encode()
	return u.String()
}
