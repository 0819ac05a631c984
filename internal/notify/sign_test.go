package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/notify"
)

func TestSignAndVerify(t *testing.T) {
	const secret = "whsec_test"
	body := []byte(`{"id":"ntf_1","type":"invoice.paid"}`)
	now := time.Now()

	t.Run("the header is Stripe's: t and the hex HMAC-SHA256 of t.body keyed with the secret", func(t *testing.T) {
		at := time.Unix(1_700_000_000, 0)
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%d.%s", at.Unix(), body)
		want := "t=1700000000,v1=" + hex.EncodeToString(mac.Sum(nil))
		if got := notify.Sign(body, secret, at); got != want {
			t.Fatalf("Sign = %q, want %q", got, want)
		}
	})
	t.Run("a signature made now verifies", func(t *testing.T) {
		noErr(t, notify.Verify(body, notify.Sign(body, secret, now), secret, time.Minute))
	})

	other := notify.Sign(body, "whsec_other", now)
	mine := notify.Sign(body, secret, now)
	refusals := []struct {
		name    string
		payload []byte
		header  string
		want    error
	}{
		{"a tampered body is refused", []byte(`{"id":"ntf_1","type":"invoice.paid "}`), mine, notify.ErrMismatch},
		{"a signature with another secret is refused", body, other, notify.ErrMismatch},
		{"a stale timestamp is refused", body, notify.Sign(body, secret, now.Add(-10*time.Minute)), notify.ErrTimestamp},
		{"a timestamp from the future is refused", body, notify.Sign(body, secret, now.Add(10*time.Minute)), notify.ErrTimestamp},
		{"a header without v1 is refused", body, fmt.Sprintf("t=%d", now.Unix()), notify.ErrNoSignature},
		{"a header with only another scheme is refused", body, fmt.Sprintf("t=%d,v0=abc", now.Unix()), notify.ErrNoSignature},
		{"an empty header is refused", body, "", notify.ErrNoSignature},
		{"junk is refused as a bad header", body, "junk", notify.ErrBadHeader},
		{"a header without t is refused as a bad header", body, "v1=00", notify.ErrBadHeader},
		{"a t that is not a number is refused as a bad header", body, "t=soon,v1=00", notify.ErrBadHeader},
		{"a v1 that is not hex is refused", body, fmt.Sprintf("t=%d,v1=zz", now.Unix()), notify.ErrMismatch},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			err := notify.Verify(r.payload, r.header, secret, time.Minute)
			if !errors.Is(err, r.want) {
				t.Fatalf("Verify = %v, want %v", err, r.want)
			}
		})
	}

	t.Run("one matching v1 among several passes", func(t *testing.T) {
		sig := mine[len(fmt.Sprintf("t=%d,v1=", now.Unix())):]
		header := fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), other[len(other)-64:], sig)
		noErr(t, notify.Verify(body, header, secret, time.Minute))
	})
	t.Run("several v1 values of which none matches are refused", func(t *testing.T) {
		header := fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), other[len(other)-64:], "00ff")
		if err := notify.Verify(body, header, secret, time.Minute); !errors.Is(err, notify.ErrMismatch) {
			t.Fatalf("Verify = %v, want ErrMismatch", err)
		}
	})
}
