package twilioevent_test

import (
	"fmt"
	"log"
	"net/url"

	"github.com/hookkit/hookkit/events/twilioevent"
)

// A message's callbacks carry no time: their statuses order them. The
// "sent" that arrives after "delivered" ranks lower, so the guard answers
// it stale.
func ExampleOrdering() {
	p := twilioevent.NewParser()
	for _, status := range []string{"delivered", "sent", "undelivered"} {
		form := url.Values{"MessageSid": {"SM9f8e"}, "MessageStatus": {status}}.Encode()
		e, err := p.Parse(nil, []byte(form))
		if err != nil {
			log.Fatal(err)
		}
		object, pos, err := twilioevent.Ordering(e)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(object, status, pos.Rank)
	}
	// Output:
	// message:SM9f8e delivered 6
	// message:SM9f8e sent 5
	// message:SM9f8e undelivered 10
}
