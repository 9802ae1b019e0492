package txstep_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

func TestNewNilDatabase(t *testing.T) {
	if _, err := txstep.New[*memTx](nil); !errors.Is(err, dispatch.ErrInvalidConfig) {
		t.Fatalf("New(nil) = %v, want an error wrapping dispatch.ErrInvalidConfig", err)
	}
}

func TestTxFrom(t *testing.T) {
	tx := &memTx{}
	tests := []struct {
		name string
		ctx  context.Context
		want *memTx
		ok   bool
	}{
		{"none", context.Background(), nil, false},
		{"carried", txstep.WithTx(context.Background(), tx), tx, true},
		{"another type", txstep.WithTx(context.Background(), "not a *memTx"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := txstep.TxFrom[*memTx](tt.ctx)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("TxFrom = %p, %v; want %p, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
