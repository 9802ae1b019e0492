package verify_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// identityKey is the edwards25519 identity point as a Standard Webhooks
// public key (M1, issue 27).
const identityKey = "whpk_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// forgedSignature is R = identity, S = 0: with the identity as the public
// key, [S]B = R + [k]A holds for every message.
func forgedSignature() string {
	var sig [ed25519.SignatureSize]byte
	sig[0] = 1 // R: the identity, y = 1
	return "v1a," + base64.StdEncoding.EncodeToString(sig[:])
}

// M1: the identity key verifies a forged signature over any message (Go's
// crypto/ed25519 checks nothing about the key), so the constructor must
// refuse it. On the old code NewStandard accepted it and the forgery
// verified; the test then fails saying so.
func TestStandardRefusesIdentityKey(t *testing.T) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(identityKey, "whpk_"))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(forgedSignature(), "v1a,"))
	for _, msg := range []string{"msg_1.1795420801.{}", "anything at all", ""} {
		if !ed25519.Verify(ed25519.PublicKey(raw), []byte(msg), sig) {
			t.Fatalf("crypto/ed25519 no longer verifies the forgery over %q: the premise of this test changed", msg)
		}
	}

	_, err = verify.DecodeStandardPublicKey(identityKey)
	if !errors.Is(err, verify.ErrInvalidConfig) || !strings.Contains(err.Error(), "small order") {
		t.Errorf("DecodeStandardPublicKey: %v, want ErrInvalidConfig saying small order", err)
	}
	v, err := verify.NewStandard(identityKey)
	if err == nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		t.Fatalf("NewStandard accepted the identity key; a forged delivery then verifies: Verify = %v",
			v.VerifyHeaders("msg_forged", ts, forgedSignature(), []byte(`{"type":"booking.cancelled"}`)))
	}
	if !errors.Is(err, verify.ErrInvalidConfig) {
		t.Errorf("NewStandard: %v, want ErrInvalidConfig", err)
	}
	if _, err := verify.NewStandard("whsec_aG9va2tpdCBmaXh0dXJlcyBzZWNyZXQh", verify.WithSecrets(identityKey)); !errors.Is(err, verify.ErrInvalidConfig) {
		t.Errorf("WithSecrets(identity key): %v, want ErrInvalidConfig", err)
	}
}

// The 32 zero bytes (y = 0, a point of order 4), a likely placeholder,
// verify the same forgery for about one message in four.
func TestZeroKeyVerifiesForgeriesAndIsRefused(t *testing.T) {
	zero := make([]byte, ed25519.PublicKeySize)
	sig, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(forgedSignature(), "v1a,"))
	forged := 0
	for i := range 400 {
		if ed25519.Verify(zero, []byte("msg_"+strconv.Itoa(i)+".1795420801.{}"), sig) {
			forged++
		}
	}
	if forged < 50 || forged > 150 {
		t.Errorf("%d of 400 messages verify with the zero key, expected about 100", forged)
	}
	_, err := verify.DecodeStandardPublicKey("whpk_" + base64.StdEncoding.EncodeToString(zero))
	if !errors.Is(err, verify.ErrInvalidConfig) || !strings.Contains(err.Error(), "small order") {
		t.Errorf("zero key: %v, want ErrInvalidConfig saying small order", err)
	}
}

// The field and curve, to derive the small-order points independently of
// the list in verify: p = 2^255-19, d = -121665/121666.
var (
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	curveD = func() *big.Int {
		inv := new(big.Int).ModInverse(big.NewInt(121666), fieldP)
		return mod(new(big.Int).Mul(big.NewInt(-121665), inv))
	}()
)

func mod(x *big.Int) *big.Int { return x.Mod(x, fieldP) }

// sqrtMod returns a square root of a modulo p, or nil.
func sqrtMod(a *big.Int) *big.Int { return new(big.Int).ModSqrt(mod(new(big.Int).Set(a)), fieldP) }

// smallOrderYs derives the y-coordinates of the points whose order divides
// 8: y = 1 (identity), p-1 (order 2), 0 (order 4: x² = -1), and the y with
// 2P of order 4, i.e. y(2P) = 0: y² + x² = 0 on -x² + y² = 1 + d·x²·y²,
// so d·y⁴ + 2·y² - 1 = 0.
func smallOrderYs(t *testing.T) []*big.Int {
	ys := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(fieldP, big.NewInt(1))}
	disc := sqrtMod(mod(new(big.Int).Add(big.NewInt(4), new(big.Int).Mul(big.NewInt(4), curveD))))
	if disc == nil {
		t.Fatal("1+d has no square root")
	}
	twoDInv := new(big.Int).ModInverse(mod(new(big.Int).Mul(big.NewInt(2), curveD)), fieldP)
	for _, s := range []*big.Int{disc, mod(new(big.Int).Neg(disc))} {
		y2 := mod(new(big.Int).Mul(new(big.Int).Sub(s, big.NewInt(2)), twoDInv))
		if y := sqrtMod(y2); y != nil {
			ys = append(ys, y, mod(new(big.Int).Neg(y)))
		}
	}
	if len(ys) != 5 {
		t.Fatalf("derived %d y-coordinates, want 5 (8 points)", len(ys))
	}
	return ys
}

// encode writes y little-endian in 32 bytes with the sign bit set or not.
func encode(y *big.Int, sign bool) []byte {
	b := make([]byte, 32)
	y.FillBytes(b)
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	if sign {
		b[31] |= 0x80
	}
	return b
}

// Every encoding of every small-order point is refused: each y with either
// sign bit, and the non-canonical encodings y+p that fit in 255 bits
// (p and p+1, for y = 0 and y = 1), with either sign bit. Each error wraps
// ErrInvalidConfig and says which check failed. The old code accepted all
// 14.
func TestEverySmallOrderEncodingIsRefused(t *testing.T) {
	limit := new(big.Int).Lsh(big.NewInt(1), 255)
	n := 0
	for _, y := range smallOrderYs(t) {
		for _, enc := range []struct {
			y    *big.Int
			says string
		}{{y, "small order"}, {new(big.Int).Add(y, fieldP), "canonical"}} {
			if enc.y.Cmp(limit) >= 0 {
				continue
			}
			for _, sign := range []bool{false, true} {
				key := "whpk_" + base64.StdEncoding.EncodeToString(encode(enc.y, sign))
				n++
				_, err := verify.DecodeStandardPublicKey(key)
				if !errors.Is(err, verify.ErrInvalidConfig) || !strings.Contains(err.Error(), enc.says) {
					t.Errorf("y=%x sign=%v: %v, want ErrInvalidConfig saying %q", enc.y, sign, err, enc.says)
				}
				if _, err := verify.NewStandard(key); !errors.Is(err, verify.ErrInvalidConfig) {
					t.Errorf("NewStandard(%s): %v", key, err)
				}
			}
		}
	}
	if n != 14 {
		t.Fatalf("checked %d encodings, want 14", n)
	}
}

// Non-canonical encodings of points that are not of small order (y >= p)
// are refused too: an encoding that decodes to the point of another is
// not a key a sender publishes.
func TestNonCanonicalKeysAreRefused(t *testing.T) {
	for _, y := range []*big.Int{new(big.Int).Add(fieldP, big.NewInt(2)), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1))} {
		key := "whpk_" + base64.StdEncoding.EncodeToString(encode(y, false))
		_, err := verify.DecodeStandardPublicKey(key)
		if !errors.Is(err, verify.ErrInvalidConfig) || !strings.Contains(err.Error(), "canonical") {
			t.Errorf("y=%x: %v, want ErrInvalidConfig saying canonical", y, err)
		}
	}
}

// Real keys still work: generated key pairs decode and verify their
// signatures through NewStandard.
func TestRealPublicKeysStillVerify(t *testing.T) {
	body := []byte(`{"event":"booking.created"}`)
	for i := range 200 {
		seed := make([]byte, ed25519.SeedSize)
		copy(seed, strconv.Itoa(i))
		signing, public, err := verifytest.StandardKeyPair(seed)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verify.NewStandard(public)
		if err != nil {
			t.Fatalf("key %d (%s) refused: %v", i, public, err)
		}
		h, err := verifytest.Standard{Secret: signing, ID: "msg_" + strconv.Itoa(i)}.Headers(body)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.VerifyHeaders(h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature"), body); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if err := v.VerifyHeaders(h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), forgedSignature(), body); err == nil {
			t.Fatalf("key %d verified the identity forgery", i)
		}
	}
}
