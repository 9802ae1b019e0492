package catalog_test

import (
	"slices"
	"testing"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/internal/catalog"
)

type deposit struct{}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		name  string
		types []interface{ Name() string }
		want  []string
	}{
		{"sorted, whatever the Go types", []interface{ Name() string }{events.NewType[*deposit]("deposit.refunded"), events.NewType[int]("deposit.paid"), events.NewType[string]("deposit.held")},
			[]string{"deposit.held", "deposit.paid", "deposit.refunded"}},
		{"none", nil, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := catalog.Names(tt.types...); !slices.Equal(got, tt.want) {
				t.Errorf("Names = %v, want %v", got, tt.want)
			}
		})
	}
}
