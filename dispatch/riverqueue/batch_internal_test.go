package riverqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/hookkit/hookkit/dispatch"
)

// fakeInserts records the batches a batcher writes; the first one blocks
// until release is closed, so that deliveries pile up behind it.
type fakeInserts struct {
	mu      sync.Mutex
	batches [][]string
	exists  map[string]bool
	fail    bool
	release chan struct{}
}

func (f *fakeInserts) insert(_ context.Context, params []river.InsertManyParams) ([]bool, error) {
	f.mu.Lock()
	first := len(f.batches) == 0
	var keys []string
	for _, p := range params {
		keys = append(keys, p.Args.(storedArgs).Key)
	}
	f.batches = append(f.batches, keys)
	f.mu.Unlock()
	if first && f.release != nil {
		<-f.release
	}
	if f.fail {
		return nil, errors.New("database stopped")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	inserted := make([]bool, len(keys))
	for i, k := range keys {
		inserted[i] = !f.exists[k]
		f.exists[k] = true
	}
	return inserted, nil
}

func request(key string) *ackRequest {
	return &ackRequest{key: key, params: river.InsertManyParams{Args: storedArgs{Key: key}}, done: make(chan dispatch.Result, 1)}
}

// Deliveries that arrive while a batch is written share the next one; two
// of one event in a batch are one job; a lone delivery is written at once.
func TestBatcherGroupsWhatArrivesDuringACommit(t *testing.T) {
	before := runtime.NumGoroutine()
	f := &fakeInserts{exists: map[string]bool{"stripe:evt_old": true}, release: make(chan struct{})}
	b := &batcher{insert: f.insert, size: 100}
	lone := request("stripe:evt_0")
	b.submit(lone) // written at once, and held there
	waitFor(t, "the lone delivery's batch written", time.Second, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.batches) == 1 })

	var rs []*ackRequest
	for _, k := range []string{"stripe:evt_1", "stripe:evt_2", "stripe:evt_1", "stripe:evt_old", "stripe:evt_3"} {
		r := request(k)
		rs = append(rs, r)
		b.submit(r)
	}
	close(f.release)
	if got := (<-lone.done).Outcome; got != dispatch.OutcomeQueued {
		t.Errorf("the lone delivery: got %v, want %v", got, dispatch.OutcomeQueued)
	}
	var outcomes []dispatch.Outcome
	for _, r := range rs {
		outcomes = append(outcomes, (<-r.done).Outcome)
	}
	if want := []dispatch.Outcome{dispatch.OutcomeQueued, dispatch.OutcomeQueued, dispatch.OutcomeDuplicate,
		dispatch.OutcomeDuplicate, dispatch.OutcomeQueued}; !slices.Equal(outcomes, want) {
		t.Errorf("a duplicate in the batch, and one of an existing job: got %q, want %q", outcomes, want)
	}
	f.mu.Lock()
	if want := [][]string{{"stripe:evt_0"}, {"stripe:evt_1", "stripe:evt_2", "stripe:evt_3", "stripe:evt_old"}}; !reflect.DeepEqual(f.batches, want) {
		t.Errorf("one batch for everything that waited, each event once, in key order: got %v, want %v", f.batches, want)
	}
	f.mu.Unlock()

	b.stop()
	waitGoroutines(t, before)
}

// A batch that fails is 503 for every delivery in it; later ones succeed.
func TestBatcherFailureIsUnavailableForAll(t *testing.T) {
	f := &fakeInserts{exists: map[string]bool{}, fail: true}
	b := &batcher{insert: f.insert, size: 3}
	var rs []*ackRequest
	for _, k := range []string{"a", "b", "c", "d"} {
		r := request(k)
		rs = append(rs, r)
		b.submit(r)
	}
	for _, r := range rs {
		res := <-r.done
		if res.Outcome != dispatch.OutcomeUnavailable {
			t.Errorf("outcome: got %v, want %v", res.Outcome, dispatch.OutcomeUnavailable)
		}
		if res.Err == nil {
			t.Errorf("an unavailable outcome with no error")
		}
	}
	f.mu.Lock()
	f.fail = false
	f.mu.Unlock()
	r := request("a")
	b.submit(r)
	if got := (<-r.done).Outcome; got != dispatch.OutcomeQueued {
		t.Errorf("the sender's retry, once the database is back: got %v, want %v", got, dispatch.OutcomeQueued)
	}
	b.stop()
}

// Stop answers every delivery already waiting, refuses new ones with 503,
// and leaves no goroutine behind.
func TestBatcherStop(t *testing.T) {
	before := runtime.NumGoroutine()
	f := &fakeInserts{exists: map[string]bool{}, release: make(chan struct{})}
	b := &batcher{insert: f.insert, size: 2, wait: time.Millisecond}
	rs := []*ackRequest{request("a"), request("b"), request("c")}
	for _, r := range rs {
		b.submit(r)
	}
	stopped := make(chan struct{})
	go func() { b.stop(); close(stopped) }()
	late := request("d")
	waitFor(t, "the batcher stopping", time.Second, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.closed })
	b.submit(late)
	if got := (<-late.done).Outcome; got != dispatch.OutcomeUnavailable {
		t.Errorf("refused once stopping: got %v, want %v", got, dispatch.OutcomeUnavailable)
	}
	close(f.release)
	<-stopped
	for _, r := range rs {
		if got := (<-r.done).Outcome; got != dispatch.OutcomeQueued {
			t.Errorf("answered before Stop returned: got %v, want %v", got, dispatch.OutcomeQueued)
		}
	}
	waitGoroutines(t, before)
}

// waitGoroutines waits until no more than want goroutines are left.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	waitFor(t, "the batcher's goroutines gone", 2*time.Second, func() bool { return runtime.NumGoroutine() <= want })
}

// waitFor waits up to d for cond, checking every millisecond.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%d goroutines)", what, d, runtime.NumGoroutine())
		}
		<-tick.C
	}
}

// argsKey finds the key in args as encoding/json and PostgreSQL's jsonb
// order them, and refuses what is not a job's args.
func TestArgsKey(t *testing.T) {
	for _, tt := range []struct {
		name, args, key string
	}{
		{"encoding/json order", `{"key":"stripe:evt_1","source":"stripe","id":"evt_1","body":"e30="}`, "stripe:evt_1"},
		{"jsonb order", `{"id": "evt_1", "key": "stripe:evt_1", "body": "e30=", "type": "x"}`, "stripe:evt_1"},
		{"key last: decoded whole", `{"id":"evt_1","body":"e30=","header":{"Content-Type":["application/json"]},"key":"k"}`, "k"},
		{"escaped quote in the id", `{"id":"a\"key\":\"x","key":"stripe:a"}`, "stripe:a"},
		{"escapes in the key", `{"key":"str\u0069pe:evt_\"1"}`, `stripe:evt_"1`},
		{"a number first: decoded whole", `{"n":1,"key":"k"}`, "k"},
		{"white space", " {\n\t\"id\" : \"x\" ,\r\n \"key\" : \"k\" }", "k"},
	} {
		key, err := argsKey([]byte(tt.args))
		if err != nil {
			t.Fatalf("%v: %v", tt.name, err)
		}
		if key != tt.key {
			t.Errorf("%v: got %q, want %q", tt.name, key, tt.key)
		}
	}
	for _, bad := range []string{``, `[]`, `{"id":"evt_1"}`, `{"key":1}`, `{"id":`, `{"key":"k\x"}`} {
		_, err := argsKey([]byte(bad))
		if err == nil {
			t.Errorf("argsKey(%q): got nil error, want one", bad)
		}
	}
}

// BenchmarkArgsKey compares reading an inserted job's key, for a 1.5 KiB
// body, by argsKey and by decoding the args whole, in the key orders the
// two databases return: encoding/json's (SQLite keeps it) and jsonb's
// (PostgreSQL: shorter keys first, so "id", then "key", then "body").
func BenchmarkArgsKey(b *testing.B) {
	args := jobArgs{Key: "stripe:evt_1", Source: "stripe", ID: "evt_1", Type: "payment_intent.succeeded", Body: bytes.Repeat([]byte("x"), 1536)}
	encoded, err := json.Marshal(args)
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(args.Body)
	if err != nil {
		b.Fatal(err)
	}
	jsonb := []byte(`{"id": "evt_1", "key": "stripe:evt_1", "body": ` + string(body) + `, "type": "payment_intent.succeeded", "source": "stripe"}`)
	for _, tc := range []struct {
		name string
		args []byte
	}{{"encoding-json-order", encoded}, {"jsonb-order", jsonb}} {
		b.Run(tc.name+"/argsKey", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if key, err := argsKey(tc.args); err != nil || key != args.Key {
					b.Fatal(key, err)
				}
			}
		})
		b.Run(tc.name+"/unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v struct {
					Key string `json:"key"`
				}
				if err := json.Unmarshal(tc.args, &v); err != nil || v.Key != args.Key {
					b.Fatal(v.Key, err)
				}
			}
		})
	}
}
