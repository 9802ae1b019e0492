package etailevent

import (
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/catalog"
)

// Source is the Source of every Etail Depot event.
const Source = "etail"

// Config returns the generic JSON parser's configuration for Etail Depot
// style events: {"id", "type", "created" (Unix seconds), "data": {"object"},
// "request"}, a starting point for senders of the same shape.
func Config() events.JSONConfig {
	return events.JSONConfig{
		Source: Source,
		ID:     "id",
		Type:   "type",
		Time:   "created",
		Data:   "data.object",
	}
}

// NewParser returns a parser for Config().
func NewParser() *events.JSONParser { return events.NewJSONParser(Config()) }

// Customer is the customer an object belongs to, as Etail Depot documents
// it in its payment example: {"id": "cust_...", "email"}.
type Customer struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Payment is a payment.* event's object. Etail Depot documents it with its
// payment.succeeded example: id, amount (in the currency's smallest unit),
// currency ("USD"), status and customer. The fields after those are not in
// that example; they are read when a delivery carries them and are empty
// otherwise.
type Payment struct {
	ID       string   `json:"id"`
	Amount   int64    `json:"amount"`
	Currency string   `json:"currency"`
	Status   string   `json:"status"` // succeeded, failed, refunded
	Customer Customer `json:"customer"`

	AmountRefunded int64             `json:"amount_refunded"`
	OrderID        string            `json:"order_id"`
	FailureCode    string            `json:"failure_code"`
	FailureMessage string            `json:"failure_message"`
	Created        int64             `json:"created"`
	Metadata       map[string]string `json:"metadata"`
}

// Order is an order.* event's object. Etail Depot documents no order
// payload; this type follows its payment object's conventions (amounts in
// the smallest unit, the customer as an object).
type Order struct {
	ID       string            `json:"id"`
	Status   string            `json:"status"` // created, fulfilled, cancelled
	Customer Customer          `json:"customer"`
	Currency string            `json:"currency"`
	Total    int64             `json:"total"`
	Items    []OrderItem       `json:"items"`
	Created  int64             `json:"created"`
	Metadata map[string]string `json:"metadata"`
}

// OrderItem is one line of an Order.
type OrderItem struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unit_amount"`
}

// Account is an account.updated event's object (Etail Depot documents no
// payload for it).
type Account struct {
	ID       string            `json:"id"`
	Email    string            `json:"email"`
	Name     string            `json:"name"`
	Status   string            `json:"status"`
	Metadata map[string]string `json:"metadata"`
}

// Card is a card.issued event's object (Etail Depot documents no payload
// for it).
type Card struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Brand     string `json:"brand"`
	Last4     string `json:"last4"`
	ExpMonth  int    `json:"exp_month"`
	ExpYear   int    `json:"exp_year"`
	Status    string `json:"status"`
}

// Transaction is a transaction.created event's object (Etail Depot
// documents no payload for it).
type Transaction struct {
	ID          string `json:"id"`
	AccountID   string `json:"account_id"`
	CardID      string `json:"card_id"`
	PaymentID   string `json:"payment_id"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Type        string `json:"type"` // debit, credit
	Status      string `json:"status"`
	Description string `json:"description"`
	Created     int64  `json:"created"`
}

// The Types of Etail Depot's events: the event types its documentation
// lists.
var (
	PaymentSucceeded   = events.NewType[*Payment]("payment.succeeded")
	PaymentFailed      = events.NewType[*Payment]("payment.failed")
	PaymentRefunded    = events.NewType[*Payment]("payment.refunded")
	OrderCreated       = events.NewType[*Order]("order.created")
	OrderFulfilled     = events.NewType[*Order]("order.fulfilled")
	OrderCancelled     = events.NewType[*Order]("order.cancelled")
	AccountUpdated     = events.NewType[*Account]("account.updated")
	CardIssued         = events.NewType[*Card]("card.issued")
	TransactionCreated = events.NewType[*Transaction]("transaction.created")
)

// Catalog returns the names of the Types above, sorted.
func Catalog() []string {
	return catalog.Names(PaymentSucceeded, PaymentFailed, PaymentRefunded, OrderCreated, OrderFulfilled,
		OrderCancelled, AccountUpdated, CardIssued, TransactionCreated)
}

// Envelope is what an Etail Depot event carries outside data.object.
type Envelope struct {
	// Request is the API request that caused the event.
	Request Request `json:"request"`
}

// Request is the top-level "request" of an Etail Depot event, as
// documented: {"id": "req_...", "idempotency_key": null or a string}.
type Request struct {
	ID string `json:"id"`
	// IdempotencyKey is the Idempotency-Key the request carried: nil when
	// it carried none (null in the body).
	IdempotencyKey *string `json:"idempotency_key"`
}

// EnvelopeOf decodes e's envelope (its request) from e.Body. The parser
// never does this: it finds the envelope it needs (id, type, created,
// data.object) in its one pass, so only a handler that asks for the
// request pays for a second read of the body. A body that does not decode
// is a *events.DecodeError.
func EnvelopeOf(e *events.Event) (Envelope, error) {
	var env Envelope
	err := events.DecodeJSON(e, e.Body, &env)
	return env, err
}
