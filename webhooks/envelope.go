package webhooks

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// maxEnvelopeText bounds an event's id and type: Stripe's are a few dozen
// characters, and the inbox's primary key index refuses entries past about
// 2.7 KB, which would fail the whole group commit.
const maxEnvelopeText = 255

// The creation times the inbox stores: PostgreSQL refuses a timestamp far
// outside them, which would fail the whole group commit.
var (
	minCreated = time.Unix(0, 0).UTC()
	maxCreated = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// checkEnvelope refuses a signed event the inbox cannot store: a body that
// is not UTF-8 (JSON is UTF-8, and the decoder would quietly change the
// id's bytes), an id or type with a NUL or past maxEnvelopeText, a creation
// time out of range. It runs before the event joins a group commit, so one
// bad event is refused alone rather than failing every event it shares a
// transaction with. Its messages never quote the value.
func checkEnvelope(payload []byte, ev stripe.Event) error {
	switch {
	case !utf8.Valid(payload):
		return errors.New("the body is not valid UTF-8")
	case !textcheck.Valid(ev.ID, maxEnvelopeText):
		return errors.New("id must be at most 255 characters of text without NUL")
	case !textcheck.Valid(ev.Type, maxEnvelopeText):
		return errors.New("type must be at most 255 characters of text without NUL")
	case ev.Created.Before(minCreated) || ev.Created.After(maxCreated):
		return errors.New("created is not a time between 1970 and 9999")
	}
	return nil
}
