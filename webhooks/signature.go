package webhooks

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// verifier checks a Stripe-Signature header against every configured
// secret. The HMAC itself is stripe-go's; this type adds what stripe-go v76
// leaves out: several secrets during a rotation, and refusing timestamps too
// far in the future (stripe-go only refuses old ones, so a header signed
// ahead of time would stay valid for as long as its author liked).
type verifier struct {
	secrets   []string
	tolerance time.Duration
}

// signatureError says why a signature was refused, in words for the caller.
type signatureError struct{ reason string }

func (e *signatureError) Error() string { return e.reason }

var (
	errNotSigned      = &signatureError{"no Stripe-Signature header"}
	errBadHeader      = &signatureError{"the Stripe-Signature header is malformed"}
	errOutOfTolerance = &signatureError{"timestamp outside the tolerance"}
	errNoMatch        = &signatureError{"no matching signature"}
)

// verify returns nil when header carries a v1 signature of payload made with
// any of the secrets at a time within the tolerance of now, and otherwise a
// *signatureError.
func (v *verifier) verify(payload []byte, header string, now time.Time) error {
	if header == "" {
		return errNotSigned
	}
	ts, ok := headerTimestamp(header)
	if !ok {
		// stripe-go would read a missing t= as year 1 and call it stale;
		// it is a broken header.
		return errBadHeader
	}
	if time.Unix(ts, 0).Sub(now) > v.tolerance {
		return errOutOfTolerance
	}
	for _, secret := range v.secrets {
		err := webhook.ValidatePayloadWithTolerance(payload, header, secret, v.tolerance)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, webhook.ErrNoValidSignature):
			continue // maybe signed with the next secret of a rotation
		case errors.Is(err, webhook.ErrNotSigned):
			return errNotSigned
		case errors.Is(err, webhook.ErrTooOld):
			return errOutOfTolerance
		default:
			// The header itself is unusable: no other secret can help.
			return errBadHeader
		}
	}
	return errNoMatch
}

// headerTimestamp reads t= from a Stripe-Signature header the way stripe-go
// does (the last one wins), so the future check looks at the same instant
// the signature covers. ok is false when there is none, or one is not an
// integer (stripe-go refuses such a header too).
func headerTimestamp(header string) (ts int64, ok bool) {
	for pair := range strings.SplitSeq(header, ",") {
		k, val, found := strings.Cut(pair, "=")
		if !found || k != "t" {
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return 0, false
		}
		ts, ok = n, true
	}
	return ts, ok
}
