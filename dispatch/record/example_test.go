package record_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/record"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

func ExampleDir() {
	dir, err := os.MkdirTemp("", "recorded-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	archive, err := record.New(dir, record.Config{})
	if err != nil {
		log.Fatal(err)
	}

	v, err := verify.NewStripe("whsec_staging")
	if err != nil {
		log.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(),
		dispatch.WithLogger(slog.New(slog.DiscardHandler)), dispatch.WithArchive(archive))

	body := []byte(`{"id":"evt_1","type":"customer.created","created":1795420800,"data":{"object":{}}}`)
	ep.ServeHTTP(httptest.NewRecorder(), verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_staging"}, "/webhooks/stripe", body))

	recorded, err := fixture.Load(os.DirFS(dir), ".")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range recorded {
		fmt.Println(strings.SplitN(f.Name, "/", 2)[0], f.Method, f.Target, f.BodyExt, string(f.Body) == string(body))
	}
	// Output: stripe POST /webhooks/stripe .json true
}
