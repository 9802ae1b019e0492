package verify_test

import (
	"errors"
	"os"
	"path"
	"testing"
	"time"

	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/verify"
)

// The repository's recorded deliveries carry signatures made with the test
// secrets testdata/README.md documents; they verify as recorded, at the
// time they were recorded, and fail once a byte of the body changes.
func TestRecordedFixturesVerify(t *testing.T) {
	recordedAt := func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }
	window := []verify.Option{verify.WithClock(recordedAt), verify.WithTolerance(2 * time.Hour)}
	must := func(v verify.Verifier, err error) verify.Verifier {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	schemes := map[string]verify.Verifier{
		"stripe":     must(verify.NewStripe("whsec_hookkit_fixtures", window...)),
		"twilio":     must(verify.NewTwilio("hookkit_fixtures_auth_token", verify.WithPublicURL("https://api.reserveeasy.example"))),
		"standard":   must(verify.NewStandard("whsec_aG9va2tpdCBmaXh0dXJlcyBzZWNyZXQh", window...)),
		"goconverso": must(verify.NewHMAC([]byte("goconverso_hookkit_fixtures"), "X-Goconverso-Signature")),
		"etail":      must(verify.NewHMAC([]byte("etail_hookkit_fixtures"), "Etail-Signature")),
	}
	recorded, err := fixture.Load(os.DirFS("../testdata"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded) == 0 {
		t.Fatal("no recorded deliveries in ../testdata")
	}
	for _, f := range recorded {
		t.Run(f.Name, func(t *testing.T) {
			v, ok := schemes[path.Dir(f.Name)]
			if !ok {
				t.Fatalf("no verifier for %s", path.Dir(f.Name))
			}
			req, err := f.Request()
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(req, f.Body); err != nil {
				t.Fatalf("as recorded: got %v, want nil", err)
			}
			tampered := append([]byte(nil), f.Body...)
			tampered[len(tampered)/2] ^= 1
			if err := v.Verify(req, tampered); !errors.Is(err, verify.ErrSignatureMismatch) {
				t.Fatalf("tampered: got %v, want %v", err, verify.ErrSignatureMismatch)
			}
		})
	}
}
