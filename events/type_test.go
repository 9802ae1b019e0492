package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/events"
)

type deposit struct {
	ID     string            `json:"id"`
	Amount int64             `json:"amount"`
	Meta   map[string]string `json:"metadata"`
}

func TestTypeDecodesOnce(t *testing.T) {
	calls := 0
	depositPaid := events.NewTypeFunc("deposit.paid", func(data []byte) (*deposit, error) {
		calls++
		var d deposit
		return &d, json.Unmarshal(data, &d)
	})
	e := &events.Event{ID: "evt_1", Type: "deposit.paid", Source: "test", Data: []byte(`{"id":"dep_1","amount":5000,"metadata":{"booking_id":"12345"}}`)}
	first, err := depositPaid.Decode(e)
	require.NoError(t, err)
	assert.Equal(t, &deposit{ID: "dep_1", Amount: 5000, Meta: map[string]string{"booking_id": "12345"}}, first)
	second, err := depositPaid.Decode(e)
	require.NoError(t, err)
	assert.Same(t, first, second, "decoded once, then remembered")
	assert.Equal(t, 1, calls)

	// Another key of the same name is another decoder.
	other := events.NewType[*deposit]("deposit.paid")
	third, err := other.Decode(e)
	require.NoError(t, err)
	assert.Equal(t, first, third)
	assert.NotSame(t, first, third)
}

func TestTypeDecodeErrors(t *testing.T) {
	depositPaid := events.NewType[*deposit]("deposit.paid")
	e := &events.Event{ID: "evt_1", Type: "deposit.paid", Source: "test", Data: []byte(`{"amount":"five thousand"}`)}
	_, err := depositPaid.Decode(e)
	require.ErrorIs(t, err, events.ErrUndecodable)
	assert.Contains(t, err.Error(), "evt_1")
	_, again := depositPaid.Decode(e)
	assert.Equal(t, err, again, "the failure is remembered too")

	_, err = depositPaid.Decode(&events.Event{ID: "evt_2", Type: "deposit.refunded", Data: []byte(`{}`)})
	require.ErrorIs(t, err, events.ErrUndecodable, "a key decodes only its own type")

	var zero events.Type[*deposit]
	_, err = zero.Decode(e)
	require.ErrorIs(t, err, events.ErrUndecodable)
	assert.Equal(t, "", zero.Name())

	noDecoder := events.NewTypeFunc[*deposit]("deposit.paid", nil)
	require.NotPanics(t, func() { _, err = noDecoder.Decode(e) })
	require.ErrorIs(t, err, events.ErrUndecodable, "a Type without a decoder")
	assert.Contains(t, err.Error(), `"deposit.paid" has no decoder`)
}

func TestNames(t *testing.T) {
	assert.Equal(t, []string{"deposit.held", "deposit.paid", "deposit.refunded"},
		events.Names(events.NewType[*deposit]("deposit.refunded"), events.NewType[int]("deposit.paid"), events.NewType[string]("deposit.held")))
	assert.Empty(t, events.Names())
}

// A payload that does not decode names the field and the problem, never a
// value: the message reaches logs and dead letters.
func TestDecodeErrorQuotesNoValue(t *testing.T) {
	type booking struct {
		Amount int64     `json:"amount"`
		When   time.Time `json:"when"`
		Paid   bool      `json:"paid"`
	}
	kind := events.NewType[*booking]("booking.paid")
	tests := []struct {
		name, data, secret, field, problem string
	}{
		{"fraction into an integer", `{"amount": 4242.4242}`, "4242.4242", "amount", "a JSON number cannot be a Go int64"},
		{"string into a bool", `{"paid": "yes-4242"}`, "yes-4242", "paid", "a JSON string cannot be a Go bool"},
		{"not a time", `{"when": "tuesday-4242"}`, "tuesday-4242", "", `a time not in the layout`},
		{"broken JSON", `{"amount": 42,}`, "42", "", "invalid JSON at offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &events.Event{Source: "test", ID: "evt_1", Type: "booking.paid", Data: []byte(tt.data)}
			_, err := kind.Decode(e)
			require.ErrorIs(t, err, events.ErrUndecodable)
			assert.NotContains(t, err.Error(), tt.secret)
			assert.Contains(t, err.Error(), tt.problem)
			var de *events.DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tt.field, de.Field)
			assert.Equal(t, "*events_test.booking", de.GoType)
			assert.Error(t, de.Err, "the decoder's own error is kept")
		})
	}
	var typeErr *json.UnmarshalTypeError
	_, err := kind.Decode(&events.Event{Type: "booking.paid", Data: []byte(`{"amount": "x"}`)})
	assert.ErrorAs(t, err, &typeErr, "errors.As reaches encoding/json's error")
}
