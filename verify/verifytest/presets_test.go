package verifytest_test

import (
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// TestHMACPresets signs a body with every preset and verifies it with
// verify.NewHMAC configured by the preset's Options, and refuses it with
// the bare verifier (every preset differs from the default in something
// but its header).
func TestHMACPresets(t *testing.T) {
	names := verifytest.HMACPresets()
	if !slices.Equal(names, []string{"etail", "github", "goconverso", "shopify", "slack"}) {
		t.Fatalf("presets = %v", names)
	}
	body := []byte(`{"id":"evt_1","type":"payment.succeeded"}`)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, ok := verifytest.HMACPreset(name, []byte("preset_secret"))
			if !ok {
				t.Fatal("no preset")
			}
			r := httptest.NewRequest("POST", "https://api.example.com/hook", nil)
			if err := s.Sign(r, body); err != nil {
				t.Fatal(err)
			}
			v, err := verify.NewHMAC([]byte("preset_secret"), s.Header, s.Options()...)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(r, body); err != nil {
				t.Errorf("the preset's own verifier refuses it: %v", err)
			}
			bare, err := verify.NewHMAC([]byte("preset_secret"), s.Header)
			if err != nil {
				t.Fatal(err)
			}
			if err := bare.Verify(r, body); (err == nil) != (len(s.Options()) == 0) {
				t.Errorf("the bare verifier's answer (%v) does not follow the preset's options %d", err, len(s.Options()))
			}
		})
	}
	if _, ok := verifytest.HMACPreset("nope", nil); ok {
		t.Error("an unknown preset exists")
	}
}
