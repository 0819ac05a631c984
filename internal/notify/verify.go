package notify

// This file is self-contained, with only standard library imports, so a
// receiver can copy it into its own code base.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the request header that carries a notification's
// signature.
const SignatureHeader = "Reconciler-Signature"

// DefaultTolerance is how far a signature's timestamp may be from now when
// Verify is given no tolerance: Stripe's default, wide enough for clock skew
// and narrow enough to stop replays.
const DefaultTolerance = 5 * time.Minute

// The reasons Verify refuses a request.
var (
	ErrNoSignature = errors.New("notify: no v1 signature")
	ErrBadHeader   = errors.New("notify: malformed signature header")
	ErrTimestamp   = errors.New("notify: signature timestamp outside the tolerance")
	ErrMismatch    = errors.New("notify: no signature matches the payload")
)

// Verify checks a SignatureHeader value against the raw request body. It
// passes when any v1 signature matches, as a secret being rotated signs
// with both, and the timestamp is within tolerance of now, before or after
// (tolerance <= 0: DefaultTolerance).
func Verify(payload []byte, header, secret string, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if strings.TrimSpace(header) == "" {
		return fmt.Errorf("%w: the header is empty", ErrNoSignature)
	}
	var ts string
	var sigs [][]byte
	sawV1 := false
	for _, part := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: %q is not key=value", ErrBadHeader, part)
		}
		switch key {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: more than one t", ErrBadHeader)
			}
			ts = value
		case "v1":
			sawV1 = true
			// A v1 that is not hex can match nothing; it does not hide the others.
			if sig, err := hex.DecodeString(value); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no unix timestamp t", ErrBadHeader)
	}
	if !sawV1 {
		return ErrNoSignature
	}
	want := signature(payload, secret, ts)
	matched := false
	for _, sig := range sigs {
		// hmac.Equal takes the same time however much matches.
		matched = hmac.Equal(sig, want) || matched
	}
	if !matched {
		return ErrMismatch
	}
	if age := time.Since(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: the timestamp is %s from now", ErrTimestamp, age.Abs().Round(time.Second))
	}
	return nil
}

// signature is the HMAC-SHA256 of "<ts>.<payload>" keyed with the secret.
func signature(payload []byte, secret, ts string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(payload)
	return mac.Sum(nil)
}
