package notify

import (
	"encoding/hex"
	"strconv"
	"time"
)

// Sign returns the SignatureHeader value for payload sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<payload>">", Stripe's scheme, so
// receivers can reuse the verifier they have. The secret's own bytes are the
// key, as Stripe uses its whsec_ secrets.
func Sign(payload []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(signature(payload, secret, ts))
}
