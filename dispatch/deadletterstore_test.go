package dispatch_test

import (
	"testing"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/deadlettertest"
)

func TestMemoryDeadLettersConformance(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T, _ *dispatch.Router) deadlettertest.Harness {
		dls := dispatch.NewMemoryDeadLetters(0)
		return deadlettertest.Harness{Store: dls, Options: []dispatch.Option{dispatch.WithDeadLetters(dls)}}
	})
}
