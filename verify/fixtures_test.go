package verify_test

import (
	"os"
	"path"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
		require.NoError(t, err)
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
	require.NoError(t, err)
	require.NotEmpty(t, recorded)
	for _, f := range recorded {
		t.Run(f.Name, func(t *testing.T) {
			v, ok := schemes[path.Dir(f.Name)]
			require.True(t, ok, "no verifier for %s", path.Dir(f.Name))
			req, err := f.Request()
			require.NoError(t, err)
			require.NoError(t, v.Verify(req, f.Body))
			tampered := append([]byte(nil), f.Body...)
			tampered[len(tampered)/2] ^= 1
			require.ErrorIs(t, v.Verify(req, tampered), verify.ErrSignatureMismatch)
		})
	}
}
