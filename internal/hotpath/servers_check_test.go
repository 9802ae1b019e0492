package hotpath_test

import (
	"bytes"
	"net/http"
	"path/filepath"
	"testing"
)

// TestServers runs each benchmark's server as the benchmarks do, on a few
// deliveries: each must answer every one 200 and handle it (measure fails
// otherwise), and refuse a delivery whose signature does not match.
func TestServers(t *testing.T) {
	cases := []struct{ kind, database string }{
		{kindFloor, ""}, {kindTyped, ""}, {kindRaw, ""}, {kindStripeGo, ""},
		{kindLean, "postgres"}, {kindHookkit, "postgres"}, {kindLean, "sqlite"}, {kindHookkit, "sqlite"},
	}
	for _, c := range cases {
		t.Run(c.kind+"/"+c.database, func(t *testing.T) {
			if c.kind == kindLean && c.database == "sqlite" {
				// SQLite has one writer: the lean receiver's second
				// flusher waits on the first, and under -race its insert
				// can outwait the busy timeout; the lean receiver has no
				// retry and answers 503. This test checks the wiring, so
				// it runs one flusher (the benchmark's setting is
				// HOOKKIT_HOTPATH_LEAN_FLUSHERS's).
				t.Setenv("HOOKKIT_HOTPATH_LEAN_FLUSHERS", "1")
			}
			db := c.database
			switch db {
			case "postgres":
				db = postgresSchemaURL(t)
			case "sqlite":
				db = "sqlite:" + filepath.Join(t.TempDir(), "river.db")
			}
			m := measure(t, c.kind, db, 50)
			if m.stats.cpu <= 0 || m.stats.mallocs == 0 {
				t.Errorf("the server measured %s of CPU and %d allocations over 50 deliveries", m.stats.cpu, m.stats.mallocs)
			}

			p := startServer(t, c.kind, db)
			req := deliveries(t, 1)[0]
			forged := bytes.Replace(req, []byte(`"amount":5000`), []byte(`"amount":9000`), 1)
			if bytes.Equal(forged, req) {
				t.Fatal("the fixture's amount is not 5000")
			}
			res, err := http.ReadResponse(sendRaw(t, p.addr, forged), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("a forged body: status %d, want 400", res.StatusCode)
			}
			p.exit(t)
		})
	}
}
