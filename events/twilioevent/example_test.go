package twilioevent_test

import (
	"fmt"
	"log"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/hookkit/hookkit/events/twilioevent"
)

func Example() {
	form := url.Values{
		"MessageSid": {"SM9f8e"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"},
		"To": {"+15551234567"}, "From": {"+15557654321"},
	}.Encode()
	r := httptest.NewRequest("POST", "/twilio/sms-status", strings.NewReader(form))

	e, err := twilioevent.NewParser().Parse(r, []byte(form))
	if err != nil {
		log.Fatal(err)
	}
	status, err := twilioevent.MessageUndelivered.Decode(e)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Type, e.ID)
	fmt.Println(status.To, status.ErrorCode)
	// Output:
	// message.undelivered SM9f8e:undelivered
	// +15551234567 30003
}
