package webhooks

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// FuzzVerifierAgreesWithStripeGo holds the verifier to what it replaced:
// the future check, then stripe-go's ValidatePayloadWithTolerance for each
// secret in turn. Both must refuse with the same reason or both accept,
// for any body, header and pair of secrets.
func FuzzVerifierAgreesWithStripeGo(f *testing.F) {
	payload := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{}}}`)
	const a, b = "whsec_a", "whsec_b"
	now := time.Now()
	signed := func(secret string, at time.Time) string {
		return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
	}
	for _, h := range []string{
		signed(a, now), signed(b, now), signed("whsec_other", now),
		signed(a, now.Add(-10*time.Minute)), signed(a, now.Add(10*time.Minute)), signed(a, now.Add(-4*time.Minute)),
		signed(a, now) + ",", signed(a, now) + ",v1=", signed(a, now) + ",v0=zz", signed(a, now) + ",x=1=2",
		strings.ToUpper(signed(a, now)), strings.Replace(signed(a, now), "t=", "t=+", 1),
		signed(a, now) + "," + signed(b, now), signed(a, now) + ",t=1", "t=1," + signed(a, now),
		signed(a, now) + strings.Repeat(",v1=00", 6), strings.Repeat("v1=00,", 6) + signed(b, now),
		"t=" + strconv.FormatInt(now.Unix(), 10), "t=" + strconv.FormatInt(now.Unix(), 10) + ",v1=",
		"t=1,v1=", "t=1,v1=zz", "t=1", "t=", "t", "=", ",", "v1=00", "t=1=2,v1=00", "t=x", "",
		"t=99999999999999999999,v1=00", "t=-9223372036854775808,v1=00", "t=9223372036854775807,v1=00",
	} {
		f.Add(payload, h, uint8(0))
		f.Add(payload, h, uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, header string, pick uint8) {
		// pick chooses the configured secrets: a rotation, one, none, or
		// with blanks.
		secrets := [][]string{{a, b}, {b}, {a, " ", ""}, {}, {"whsec_other", a}}[int(pick)%5]
		now := time.Now()
		if nearBoundary(header, now) {
			t.Skip("a timestamp at the tolerance's edge: stripe-go reads the clock itself")
		}
		v := newVerifier(secrets, DefaultTolerance)
		got := v.verify(body, header, now)
		want := stripeGoVerify(v.secrets, DefaultTolerance, body, header, now)
		if got != want {
			t.Fatalf("verify(%q, secrets %q) = %v, stripe-go's way %v", header, secrets, got, want)
		}
	})
}

// stripeGoVerify is the verifier as it was, on stripe-go.
func stripeGoVerify(secrets []string, tolerance time.Duration, payload []byte, header string, now time.Time) error {
	if header == "" {
		return errNotSigned
	}
	ts, ok := int64(0), false
	for pair := range strings.SplitSeq(header, ",") {
		k, val, found := strings.Cut(pair, "=")
		if !found || k != "t" {
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return errBadHeader
		}
		ts, ok = n, true
	}
	if !ok {
		return errBadHeader
	}
	if time.Unix(ts, 0).Sub(now) > tolerance {
		return errOutOfTolerance
	}
	for _, secret := range secrets {
		err := webhook.ValidatePayloadWithTolerance(payload, header, secret, tolerance)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, webhook.ErrNoValidSignature):
			continue
		case errors.Is(err, webhook.ErrNotSigned):
			return errNotSigned
		case errors.Is(err, webhook.ErrTooOld):
			return errOutOfTolerance
		default:
			return errBadHeader
		}
	}
	return errNoMatch
}

// nearBoundary reports whether a t= of header is within a few seconds of
// the tolerance's edges, where the two clocks read could disagree.
func nearBoundary(header string, now time.Time) bool {
	for pair := range strings.SplitSeq(header, ",") {
		if v, ok := strings.CutPrefix(pair, "t="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				for _, edge := range []time.Time{now.Add(-DefaultTolerance), now.Add(DefaultTolerance)} {
					if d := n - edge.Unix(); d > -5 && d < 5 {
						return true
					}
				}
			}
		}
	}
	return false
}
