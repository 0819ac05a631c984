package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sign returns the SignatureHeader value for payload sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<payload>">", Stripe's scheme, so
// receivers can reuse the verifier they have. The secret's whole string is
// the key, as Stripe uses its whsec_ secrets.
func Sign(payload []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(signature(payload, secret, ts))
}

// The Standard Webhooks headers (https://www.standardwebhooks.com/), which
// any of that standard's libraries verifies unchanged.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// secretPrefix starts every endpoint secret: "whsec_" + base64 of the key.
const secretPrefix = "whsec_"

// standardKey is the HMAC key of a secret under the Standard Webhooks
// scheme: the base64 after "whsec_". Secrets made before they followed
// that standard hold unpadded base64url instead; they still sign, with the
// key they hold, though a Standard Webhooks library cannot read them (make
// the endpoint again to use one).
func standardKey(secret string) ([]byte, error) {
	enc := strings.TrimPrefix(secret, secretPrefix)
	if key, err := base64.StdEncoding.DecodeString(enc); err == nil {
		return key, nil
	}
	key, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("notify: endpoint secret is not whsec_ and base64")
	}
	return key, nil
}

// SignStandard sets the Standard Webhooks headers of a message with id
// (the notification's id: the same on every attempt, so a receiver
// deduplicates on it) sent at t: webhook-id, webhook-timestamp, and
// webhook-signature "v1,<base64 HMAC-SHA256 of "<id>.<unix>.<payload>">"
// keyed by the secret's decoded key.
func SignStandard(h http.Header, id string, payload []byte, secret string, t time.Time) error {
	key, err := standardKey(secret)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte("."))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(payload)
	// Header names are case-insensitive on the wire; Set writes them in
	// Go's canonical form, which every Get, the standard's library's too,
	// finds.
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, ts)
	h.Set(HeaderWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return nil
}
