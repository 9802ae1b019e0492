package stripeevent_test

import (
	"fmt"
	"log"
	"os"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
)

// The recorded subscription's deletion arrives before the update that
// preceded it: by their positions the update is older, so the guard
// answers it stale and the subscription stays deleted.
func ExampleOrdering() {
	var last events.Position
	for i, name := range []string{"customer.subscription.deleted", "customer.subscription.updated"} {
		body, err := os.ReadFile("../../testdata/stripe/" + name + ".json")
		if err != nil {
			log.Fatal(err)
		}
		e, err := stripeevent.NewParser().Parse(nil, body)
		if err != nil {
			log.Fatal(err)
		}
		object, pos, err := stripeevent.Ordering(e)
		if err != nil {
			log.Fatal(err)
		}
		stale := i > 0 && pos.Compare(last) < 0
		if !stale {
			last = pos
		}
		fmt.Println(e.Type, object, pos.At, pos.Rank, "stale:", stale)
	}
	// Output:
	// customer.subscription.deleted sub_1OdQm2LkdIwHu7ixG9sKzR3w 1795420830 4 stale: false
	// customer.subscription.updated sub_1OdQm2LkdIwHu7ixG9sKzR3w 1795420820 2 stale: true
}
