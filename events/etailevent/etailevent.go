package etailevent

import "github.com/hookkit/hookkit/events"

// Source is the Source of every Etail Depot event.
const Source = "etail"

// Config returns the generic JSON parser's configuration for Etail Depot
// style events: {"id", "type", "created" (Unix seconds), "data": {"object"}},
// a starting point for senders of the same shape.
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
func NewParser() *events.JSONParser { return events.MustJSONParser(Config()) }

// Payment is a payment.* event's object.
type Payment struct {
	ID             string            `json:"id"`
	Amount         int64             `json:"amount"` // in the currency's smallest unit
	AmountRefunded int64             `json:"amount_refunded"`
	Currency       string            `json:"currency"`
	Status         string            `json:"status"` // succeeded, failed, refunded
	OrderID        string            `json:"order_id"`
	CustomerID     string            `json:"customer_id"`
	FailureCode    string            `json:"failure_code"`
	FailureMessage string            `json:"failure_message"`
	Created        int64             `json:"created"`
	Metadata       map[string]string `json:"metadata"`
}

// Order is an order.* event's object.
type Order struct {
	ID         string            `json:"id"`
	Status     string            `json:"status"` // created, paid, cancelled
	CustomerID string            `json:"customer_id"`
	Currency   string            `json:"currency"`
	Total      int64             `json:"total"`
	Items      []OrderItem       `json:"items"`
	Created    int64             `json:"created"`
	Metadata   map[string]string `json:"metadata"`
}

// OrderItem is one line of an Order.
type OrderItem struct {
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unit_amount"`
}

// Account is an account.updated event's object.
type Account struct {
	ID       string            `json:"id"`
	Email    string            `json:"email"`
	Name     string            `json:"name"`
	Status   string            `json:"status"`
	Metadata map[string]string `json:"metadata"`
}

// Card is a card.issued event's object.
type Card struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Brand     string `json:"brand"`
	Last4     string `json:"last4"`
	ExpMonth  int    `json:"exp_month"`
	ExpYear   int    `json:"exp_year"`
	Status    string `json:"status"`
}

// Transaction is a transaction.created event's object.
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

// The Types of Etail Depot's events.
var (
	PaymentSucceeded   = events.NewType[*Payment]("payment.succeeded")
	PaymentFailed      = events.NewType[*Payment]("payment.failed")
	PaymentRefunded    = events.NewType[*Payment]("payment.refunded")
	OrderCreated       = events.NewType[*Order]("order.created")
	OrderPaid          = events.NewType[*Order]("order.paid")
	OrderCancelled     = events.NewType[*Order]("order.cancelled")
	AccountUpdated     = events.NewType[*Account]("account.updated")
	CardIssued         = events.NewType[*Card]("card.issued")
	TransactionCreated = events.NewType[*Transaction]("transaction.created")
)

// Catalog returns the names of the Types above, sorted.
func Catalog() []string {
	return events.Names(PaymentSucceeded, PaymentFailed, PaymentRefunded, OrderCreated, OrderPaid,
		OrderCancelled, AccountUpdated, CardIssued, TransactionCreated)
}
