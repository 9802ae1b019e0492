package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"testing"
	"time"
)

// A v1a verification of a large body does not leave its message buffer in
// the pool: the pool keeps buffers up to maxPooledMessage.
func TestStandardPoolKeepsNoLargeMessage(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	now := time.Unix(1_800_000_000, 0)
	s, err := NewStandard("whpk_"+base64.StdEncoding.EncodeToString(pub), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1<<20)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := ed25519.Sign(priv, append([]byte("msg_1."+ts+"."), body...))
	if err := s.VerifyHeaders("msg_1", ts, "v1a,"+base64.StdEncoding.EncodeToString(sig), body); err != nil {
		t.Fatal(err)
	}
	buf := s.messages.Get().(*[]byte)
	if cap(*buf) > maxPooledMessage {
		t.Errorf("the pool kept a %d-byte message buffer", cap(*buf))
	}
}
