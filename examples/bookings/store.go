package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib" // PostgreSQL, when -db is a postgres:// URL
	_ "modernc.org/sqlite"           // SQLite, the embedded default

	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

// The schema is written once for both databases: text IDs and RFC 3339
// text times, booleans, and $n placeholders, which both drivers bind.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS bookings (
		id               TEXT PRIMARY KEY,
		customer_phone   TEXT NOT NULL,
		status           TEXT NOT NULL,
		deposit_paid     BOOLEAN NOT NULL DEFAULT FALSE,
		deposit_refunded BOOLEAN NOT NULL DEFAULT FALSE,
		refunded_at      TEXT,
		hold_until       TEXT,            -- a failed deposit's hold: the booking is released then (holds.go)
		hold_expired_at  TEXT,            -- when the hold ended unpaid and the booking was released
		refund_due       BOOLEAN NOT NULL DEFAULT FALSE, -- a deposit paid after its booking was released
		sms_message_sid  TEXT,            -- the confirmation SMS, the first message seen for the booking
		sms_status       TEXT,
		sms_delivered    BOOLEAN NOT NULL DEFAULT FALSE,
		sms_delivered_at TEXT,
		created_at       TEXT NOT NULL,
		updated_at       TEXT NOT NULL
	)`,
	// Rows take natural IDs from what caused them (the payment, the event);
	// hookkit runs each event to effect once, in the transaction that
	// completes it, so these are not there to absorb a second run.
	`CREATE TABLE IF NOT EXISTS transactions (
		id         TEXT PRIMARY KEY,
		booking_id TEXT NOT NULL REFERENCES bookings (id),
		kind       TEXT NOT NULL,
		amount     BIGINT NOT NULL,
		currency   TEXT NOT NULL,
		reference  TEXT NOT NULL,
		created_at TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS outbox (
		id         TEXT PRIMARY KEY,
		booking_id TEXT NOT NULL REFERENCES bookings (id),
		kind       TEXT NOT NULL,
		channel    TEXT NOT NULL,
		recipient  TEXT NOT NULL,
		message    TEXT NOT NULL,
		created_at TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS bookings_phone ON bookings (customer_phone, status, created_at)`,
	`CREATE INDEX IF NOT EXISTS bookings_sms ON bookings (sms_message_sid)`,
	`CREATE INDEX IF NOT EXISTS bookings_hold ON bookings (status, hold_until)`,
}

// hookkitTables names hookkit's tables in the bookings database.
var hookkitTables = txstep.Config{IdempotencyTable: "webhook_idempotency", DeadLetterTable: "webhook_dead_letters"}

// errNoBooking means an event names a booking this backend does not have.
var errNoBooking = errors.New("no such booking")

// store is the bookings database, with hookkit's tables in it (idempotency
// keys and dead letters) and River's (the Twilio route's jobs): the
// handlers' writes and each event's completion commit in one transaction.
type store struct {
	db       *sql.DB
	pool     *pgxpool.Pool // on PostgreSQL: db's connections, and River's
	postgres bool
	hookkit  sqltx.Tables
	// clock, when set, replaces time.Now: tests and the demo move it
	// (past a hold's end, say) while handlers and the hold sweep read it.
	clock atomic.Pointer[func() time.Time]
}

// now is the backend's time: time.Now unless setClock replaced it.
func (s *store) now() time.Time {
	if c := s.clock.Load(); c != nil {
		return (*c)()
	}
	return time.Now()
}

// setClock makes now return now().
func (s *store) setClock(now func() time.Time) { s.clock.Store(&now) }

// openStore opens dsn: a postgres:// URL, or a SQLite file path.
func openStore(ctx context.Context, dsn string) (*store, error) {
	s, err := open(ctx, dsn)
	if err != nil {
		// A driver's error may quote the URL (pgx's parse errors hide only
		// the user-info password, not ?password=): no credential of the
		// DSN reaches a log through an error.
		return nil, hideSecrets(err, dsn)
	}
	return s, nil
}

func open(ctx context.Context, dsn string) (*store, error) {
	s := &store{}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.postgres = true
		// One pool: River works on pgx, the other routes on database/sql
		// over the same connections.
		var cfg *pgxpool.Config
		if cfg, err = pgxpool.ParseConfig(dsn); err != nil {
			return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
		}
		if !strings.Contains(dsn, "pool_max_conns") {
			cfg.MaxConns = 20 // pgxpool's default (4 on two cores) is for a client, not a server
		}
		if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
		}
		s.db = stdlib.OpenDBFromPool(s.pool)
		s.hookkit, err = sqltx.NewPostgres(s.db, hookkitTables)
	} else {
		// _txlock=immediate: a transaction takes the write lock at BEGIN,
		// so concurrent writers queue behind busy_timeout; a deferred one
		// that reads first fails with SQLITE_BUSY at once when it tries to
		// write while another writer holds the lock.
		if s.db, err = sql.Open("sqlite", dsn+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"); err != nil {
			return nil, err
		}
		s.hookkit, err = sqltx.NewSQLite(s.db, hookkitTables)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
	}
	if err := s.createTables(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("creating tables: %w", err)
	}
	if err := s.hookkit.Migrate(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// createTables creates the bookings schema in one transaction, so that
// replicas starting together do it one at a time: on PostgreSQL behind an
// advisory lock (concurrent CREATE TABLE IF NOT EXISTS fail there with
// unique violations), on SQLite behind the write lock a transaction opened
// with _txlock=immediate takes.
func (s *store) createTables(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(8316574400123)`); err != nil {
			return err
		}
	}
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// close closes the database.
func (s *store) close() {
	s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
}

// secretsOf returns the credentials in a database URL: its password and
// the values of its credential parameters.
func secretsOf(dsn string) []string {
	u, err := url.Parse(dsn)
	if err != nil || !strings.Contains(dsn, "://") {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	for name, values := range u.Query() {
		if credentialParam(name) {
			for _, v := range values {
				if v != "" {
					out = append(out, v, url.QueryEscape(v))
				}
			}
		}
	}
	return out
}

// hideSecrets returns err with every credential of dsn replaced in its
// text; errors.Is and errors.As still see err.
func hideSecrets(err error, dsn string) error {
	text := err.Error()
	for _, secret := range secretsOf(dsn) {
		text = strings.ReplaceAll(text, secret, "redacted")
	}
	return &redactedError{text: text, err: err}
}

type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// credentialParam reports whether a URL parameter may hold a credential.
func credentialParam(name string) bool {
	lower := strings.ToLower(name)
	for _, word := range []string{"pass", "secret", "token", "key", "credential"} {
		if strings.Contains(lower, word) {
			return true
		}
	}
	return false
}

// redact returns a database URL fit for a log line or an error: its
// password, and every query parameter that may hold a credential
// (password, sslpassword, anything naming a key, secret or token), are
// replaced. A SQLite path is returned as it is; a URL that does not parse
// is not returned at all.
func redact(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a database URL that does not parse)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	query := u.Query()
	for name := range query {
		if credentialParam(name) {
			query[name] = []string{"redacted"}
		}
	}
	u.RawQuery = query.Encode()
	return u.String()
}

func (s *store) stamp() string { return s.now().UTC().Format(time.RFC3339) }

// querier is what a handler needs of a transaction. Most routes run their
// handlers in a database/sql transaction; the Twilio route's run in River's
// job transaction, which on PostgreSQL is a pgx.Tx. Both drivers report no
// row as sql.ErrNoRows (pgx.ErrNoRows wraps it).
type querier interface {
	exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	queryRow(ctx context.Context, query string, args ...any) interface{ Scan(dest ...any) error }
}

type sqlQuerier struct{ tx *sql.Tx }

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(dest ...any) error } {
	return q.tx.QueryRowContext(ctx, query, args...)
}

type pgxQuerier struct{ tx pgx.Tx }

func (q pgxQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.tx.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (q pgxQuerier) queryRow(ctx context.Context, query string, args ...any) interface{ Scan(dest ...any) error } {
	return q.tx.QueryRow(ctx, query, args...)
}

// tx runs fn in the event's transaction, the one hookkit claimed the event
// in (sqltx.Tx) or River's worker completes its job in (sqltx.Tx on SQLite,
// pgxtx.Tx on PostgreSQL): fn's writes commit together with the event's
// completion, so a crash can neither lose them after a 200 nor make them
// twice. Outside a webhook (a test calling a handler directly) fn gets a
// transaction of its own.
func (s *store) tx(ctx context.Context, fn func(q querier) error) error {
	if tx, ok := sqltx.Tx(ctx); ok {
		return fn(sqlQuerier{tx})
	}
	if tx, ok := pgxtx.Tx(ctx); ok {
		return fn(pgxQuerier{tx})
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlQuerier{tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// phoneOf returns a booking's customer phone, or errNoBooking.
func phoneOf(ctx context.Context, q querier, bookingID string) (string, error) {
	var phone string
	err := q.queryRow(ctx, `SELECT customer_phone FROM bookings WHERE id = $1`, bookingID).Scan(&phone)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("booking %q: %w", bookingID, errNoBooking)
	}
	return phone, err
}

// bookingState is what the deposit handlers decide on.
type bookingState struct {
	Status    string
	Refunded  bool
	HoldUntil sql.NullString
}

// lockBooking returns booking id's state, holding its row until q's
// transaction ends (an UPDATE that changes nothing takes the row lock on
// PostgreSQL; a SQLite transaction holds the write lock from BEGIN), so
// that what the caller decides from it cannot be overtaken by a hold
// sweep or another event for the booking committing meanwhile.
func lockBooking(ctx context.Context, q querier, id string) (bookingState, error) {
	var st bookingState
	err := q.queryRow(ctx, `UPDATE bookings SET updated_at = updated_at WHERE id = $1
		RETURNING status, deposit_refunded, hold_until`, id).Scan(&st.Status, &st.Refunded, &st.HoldUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("booking %q: %w", id, errNoBooking)
	}
	return st, err
}

// notify queues a notification. Its id comes from the event (the event's
// key and the channel): an event runs to effect once, so no duplicate can
// arrive, and a key conflict would be a bug to see, not to hide.
func (s *store) notify(ctx context.Context, q querier, id, bookingID, kind, channel, recipient, message string) error {
	_, err := q.exec(ctx, `INSERT INTO outbox (id, booking_id, kind, channel, recipient, message, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, bookingID, kind, channel, recipient, message, s.now().UTC().Format(time.RFC3339Nano)) // nanoseconds keep the queue in order
	return err
}

func (s *store) addTransaction(ctx context.Context, q querier, id, bookingID, kind string, amount int64, currency, reference string) error {
	_, err := q.exec(ctx, `INSERT INTO transactions (id, booking_id, kind, amount, currency, reference, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, bookingID, kind, amount, currency, reference, s.stamp())
	return err
}

// bookingView is what GET /bookings/{id} returns.
type bookingView struct {
	ID              string   `json:"id"`
	CustomerPhone   string   `json:"customer_phone"`
	Status          string   `json:"status"`
	DepositPaid     bool     `json:"deposit_paid"`
	DepositRefunded bool     `json:"deposit_refunded"`
	RefundedAt      *string  `json:"refunded_at"`
	HoldUntil       *string  `json:"hold_until"`
	HoldExpiredAt   *string  `json:"hold_expired_at"`
	RefundDue       bool     `json:"refund_due"`
	SMSStatus       *string  `json:"sms_status"`
	SMSDelivered    bool     `json:"sms_delivered"`
	SMSDeliveredAt  *string  `json:"sms_delivered_at"`
	CreatedAt       string   `json:"created_at"`
	Transactions    int      `json:"transactions"`
	Outbox          []string `json:"outbox"`
}

func (s *store) booking(ctx context.Context, id string) (*bookingView, error) {
	b := &bookingView{Outbox: []string{}}
	err := s.db.QueryRowContext(ctx, `SELECT id, customer_phone, status, deposit_paid, deposit_refunded, refunded_at, hold_until,
			hold_expired_at, refund_due, sms_status, sms_delivered, sms_delivered_at, created_at,
			(SELECT COUNT(*) FROM transactions t WHERE t.booking_id = b.id)
		FROM bookings b WHERE id = $1`, id).
		Scan(&b.ID, &b.CustomerPhone, &b.Status, &b.DepositPaid, &b.DepositRefunded, &b.RefundedAt, &b.HoldUntil,
			&b.HoldExpiredAt, &b.RefundDue, &b.SMSStatus, &b.SMSDelivered, &b.SMSDeliveredAt, &b.CreatedAt, &b.Transactions)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoBooking
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT kind FROM outbox WHERE booking_id = $1 ORDER BY created_at, id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		if err := rows.Scan(&kind); err != nil {
			return nil, err
		}
		b.Outbox = append(b.Outbox, kind)
	}
	return b, rows.Err()
}
