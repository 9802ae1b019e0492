package order

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookkit/hookkit/dispatch"

	"github.com/hookkit/hookkit/events"
)

// DefaultPoll is how often a Keeper looks for kept events that are due.
const DefaultPoll = time.Second

// KeeperConfig configures a Keeper.
type KeeperConfig[Tx any] struct {
	// WithTx returns ctx carrying tx for the handler (txstep.WithTx).
	WithTx func(ctx context.Context, tx Tx) context.Context
	// DeadLetterTx stores a dead letter inside tx: a kept event given up
	// on is deleted and dead-lettered in one transaction.
	DeadLetterTx func(ctx context.Context, tx Tx, dl dispatch.DeadLetter) error
	// Poll is how often the Keeper looks for due events (default
	// DefaultPoll): the longest a kept event waits past its object's
	// advance when the replica that applied it died before waking anyone.
	Poll time.Duration
	// Logger receives a line per kept event run (default slog.Default).
	Logger *slog.Logger
}

// Keeper runs kept events again: those of an object as soon as it is
// woken for it (Wake, after the transaction that advanced the object
// commits), and every due one each Poll. Each run takes its kept event's
// row in the transaction the handler writes in: applied, it is gone with
// the commit; not applied, it comes back with the rollback. It runs
// events with the Router of their source (Route); one goroutine, started
// by the first Route, stopped by Stop.
type Keeper[Tx any] struct {
	t   *Tables[Tx]
	cfg KeeperConfig[Tx]

	mu      sync.Mutex
	routers map[string]*dispatch.Router
	stop    context.CancelFunc
	done    chan struct{}

	wake chan Object

	failed int // begins failed in a row, read by the Keeper's goroutine alone
}

// NewKeeper returns the Keeper of the Tables' kept events, or an error
// wrapping dispatch.ErrInvalidConfig.
func (t *Tables[Tx]) NewKeeper(cfg KeeperConfig[Tx]) (*Keeper[Tx], error) {
	if cfg.WithTx == nil || cfg.DeadLetterTx == nil {
		return nil, fmt.Errorf("order: KeeperConfig needs WithTx and DeadLetterTx: %w", dispatch.ErrInvalidConfig)
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Poll < 10*time.Millisecond {
		return nil, fmt.Errorf("order: KeeperConfig.Poll %s: want at least 10ms: %w", cfg.Poll, dispatch.ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Keeper[Tx]{t: t, cfg: cfg, routers: map[string]*dispatch.Router{}, wake: make(chan Object, 256)}, nil
}

// Route has the Keeper run the kept events of source with r, and starts
// it if it is not running. The accept steps call it with each delivery's
// Router; a host calls it at start, for events kept before a restart to
// run before the sender's next delivery.
func (k *Keeper[Tx]) Route(source string, r *dispatch.Router) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.routers[source] == r && k.stop != nil {
		return
	}
	routers := make(map[string]*dispatch.Router, len(k.routers)+1)
	for s, rr := range k.routers {
		routers[s] = rr
	}
	routers[source] = r
	k.routers = routers
	if k.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		k.stop, k.done = cancel, make(chan struct{})
		go k.run(ctx, k.done)
	}
}

// Wake has the Keeper run the events kept for objs now: call it once the
// transaction whose guard advanced them (TxGuard.Advanced) has committed.
// It never blocks: a wake that finds the Keeper busy is left to its poll.
func (k *Keeper[Tx]) Wake(objs ...Object) {
	for _, o := range objs {
		select {
		case k.wake <- o:
		default:
		}
	}
}

// Stop stops the Keeper, waiting for the event it is running until ctx
// ends. A Keeper stopped runs again on the next Route.
func (k *Keeper[Tx]) Stop(ctx context.Context) error {
	k.mu.Lock()
	stop, done := k.stop, k.done
	k.stop, k.done = nil, nil
	k.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxFailedBegins is how many polls in a row may fail to begin a
// transaction (or to read the kept events) before the Keeper stops (its database closed, or down): the
// next delivery that keeps an event or advances an object with events kept
// starts it again (Route), and the events it would have run are due then.
const maxFailedBegins = 3

// quit stops the Keeper from its own goroutine, unless Stop or Route
// replaced it meanwhile.
func (k *Keeper[Tx]) quit(done chan struct{}) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done != done {
		return false
	}
	k.stop()
	k.stop, k.done = nil, nil
	k.log(context.Background(), slog.LevelWarn, "kept events: the database does not answer; the Keeper stops until the next kept event or advance", nil, nil)
	return true
}

func (k *Keeper[Tx]) router(source string) *dispatch.Router {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.routers[source]
}

func (k *Keeper[Tx]) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(k.cfg.Poll)
	defer tick.Stop()
	k.runDue(ctx) // events kept before a restart
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-k.wake:
			k.runObject(ctx, o)
		case <-tick.C:
			k.runDue(ctx)
		}
		if k.failed >= maxFailedBegins && k.quit(done) {
			return
		}
	}
}

// maxPerPass bounds the kept events one pass runs, so that wakes are not
// starved by a backlog of due events.
const maxPerPass = 100

// runObject runs the events kept for o, oldest position first.
func (k *Keeper[Tx]) runObject(ctx context.Context, o Object) {
	for range maxPerPass {
		if !k.runOne(ctx, &o) {
			return
		}
	}
}

// runDue runs the kept events that are due.
func (k *Keeper[Tx]) runDue(ctx context.Context) {
	for range maxPerPass {
		if !k.runOne(ctx, nil) {
			return
		}
	}
}

// runOne runs one kept event (o's oldest, or the first due one) and
// reports whether there was one to run.
func (k *Keeper[Tx]) runOne(ctx context.Context, o *Object) bool {
	if ctx.Err() != nil {
		return false
	}
	db, now := k.t.db, time.Now()
	tx, err := db.Begin(ctx)
	if err != nil {
		if ctx.Err() == nil { // not Stop's doing
			k.failed++
			k.log(ctx, slog.LevelWarn, "kept events: begin", nil, err)
		}
		return false
	}
	k.failed = 0
	kp, ok, err := k.t.take(ctx, tx, o, now)
	if err != nil || !ok {
		db.End(context.WithoutCancel(ctx), tx, false)
		if err != nil && ctx.Err() == nil {
			k.failed++ // its tables gone, or its database down
			k.log(ctx, slog.LevelWarn, "kept events: take", nil, err)
		}
		return false
	}
	r := k.router(kp.event.Source)
	if r == nil {
		db.End(context.WithoutCancel(ctx), tx, false)
		k.settle(ctx, kp, fmt.Errorf("no Router for source %q in this process (Keeper.Route)", kp.event.Source), now)
		return true
	}
	g := k.t.Guard(tx)
	hctx := k.cfg.WithTx(dispatch.WithGuard(dispatch.WithAttempt(ctx, kp.runs+1), g), tx)
	err = r.Dispatch(hctx, kp.event)
	if err != nil && ctx.Err() != nil {
		// Stopped mid-run (Stop), the handler interrupted: the event
		// stays kept as it was, its schedule unchanged, for the next run.
		db.End(context.WithoutCancel(ctx), tx, false)
		return false
	}
	switch {
	case err == nil || errors.Is(err, dispatch.ErrStale):
		if cerr := db.End(context.WithoutCancel(ctx), tx, true); cerr != nil {
			level := slog.LevelError
			if ctx.Err() != nil && (errors.Is(cerr, context.Canceled) || errors.Is(cerr, sql.ErrTxDone)) {
				// Stop's doing (database/sql ends a transaction with the
				// context it began with): the event stays kept.
				level = slog.LevelInfo
			}
			k.log(ctx, level, "kept events: commit", kp.event, cerr)
			return false
		}
		level, msg := slog.LevelDebug, "kept event applied"
		if err != nil {
			msg = "kept event stale: a newer event of its object was applied"
		}
		k.log(ctx, level, msg, kp.event, err)
		k.Wake(g.Advanced()...)
		return true
	}
	db.End(context.WithoutCancel(ctx), tx, false)
	k.settle(ctx, kp, err, now)
	return true
}

// settle deals with a kept event whose run did not apply: kept again until
// the next delay of the schedule, or dead-lettered.
func (k *Keeper[Tx]) settle(ctx context.Context, kp kept, cause error, now time.Time) {
	ctx = context.WithoutCancel(ctx)
	db := k.t.db
	tx, err := db.Begin(ctx)
	if err != nil {
		k.log(ctx, slog.LevelError, "kept events: begin", kp.event, err)
		return
	}
	again := false
	if !dispatch.IsPermanent(cause) || errors.Is(cause, dispatch.ErrNotYet) {
		again, err = k.t.again(ctx, tx, kp, cause, now)
	}
	if err == nil && !again {
		err = k.deadLetterTx(ctx, tx, kp, cause, now)
	}
	if err == nil {
		err = db.End(ctx, tx, true)
	} else {
		db.End(ctx, tx, false)
	}
	switch {
	case err != nil:
		k.log(ctx, slog.LevelError, "kept events: not settled; it runs again on the next poll", kp.event, err)
	case again:
		k.log(ctx, slog.LevelInfo, "kept event not applied yet; kept again", kp.event, cause)
	default:
		k.log(ctx, slog.LevelError, "kept event dead-lettered", kp.event, cause)
	}
}

func (k *Keeper[Tx]) deadLetterTx(ctx context.Context, tx Tx, kp kept, cause error, now time.Time) error {
	if _, err := k.t.db.Exec(ctx, tx, k.t.q.deleteKept, kp.id); err != nil {
		return err
	}
	if kp.object.ID != "" {
		if _, err := k.t.db.Exec(ctx, tx, k.t.q.unkeep, kp.object.Source, kp.object.ID); err != nil {
			return err
		}
	}
	if cause == nil || !dispatch.IsPermanent(cause) {
		cause = dispatch.Permanent(fmt.Errorf("kept %d times, its object never advanced: %w", kp.runs, cause))
	}
	return k.cfg.DeadLetterTx(ctx, tx, deadLetter(kp, cause, now))
}

func (k *Keeper[Tx]) log(ctx context.Context, level slog.Level, msg string, e *events.Event, err error) {
	attrs := make([]slog.Attr, 0, 4)
	if e != nil {
		attrs = append(attrs, slog.String("source", e.Source), slog.String("type", e.Type), slog.String("id", e.ID))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", errorText(err)))
	}
	k.cfg.Logger.LogAttrs(ctx, level, msg, attrs...)
}
