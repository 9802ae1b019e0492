package events_test

import (
	"encoding/json"
	"errors"
	"testing"

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
}

func TestRegistry(t *testing.T) {
	paid := events.NewType[*deposit]("deposit.paid")
	refunded := events.NewType[*deposit]("deposit.refunded")
	r := events.NewRegistry(refunded, paid)
	assert.Equal(t, []string{"deposit.paid", "deposit.refunded"}, r.Names())
	assert.True(t, r.Known("deposit.paid"))
	assert.False(t, r.Known("deposit.held"))

	v, err := r.Decode(&events.Event{Type: "deposit.paid", Data: []byte(`{"id":"d"}`)})
	require.NoError(t, err)
	assert.Equal(t, &deposit{ID: "d"}, v)
	_, err = r.Decode(&events.Event{Type: "deposit.held"})
	require.ErrorIs(t, err, events.ErrUnknownType)

	err = r.Add(events.NewType[string]("deposit.held"), events.NewType[int]("deposit.paid"))
	require.Error(t, err, "a duplicate name is refused")
	assert.False(t, r.Known("deposit.held"), "and nothing of the batch is added")
	require.NoError(t, r.Add(events.NewType[string]("deposit.held")))

	var empty events.Registry
	assert.Empty(t, empty.Names())
	require.Error(t, empty.Add(events.Type[int]{}))
	assert.Panics(t, func() { events.NewRegistry(paid, paid) })
	_, err = empty.Decode(&events.Event{Type: "x"})
	assert.True(t, errors.Is(err, events.ErrUnknownType))
}
