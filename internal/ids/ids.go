// Package ids makes the prefixed ids of everything the service creates
// ("pay_01jd8k2...", "job_..."): ordered by time, then random.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// encoding is Crockford-like base32 in lower case: ids read aloud well and
// sort as bytes.
var encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New makes an id with a prefix, such as "pay_01jd8k2...": 24 base32 digits
// of 120 bits, the first 48 the time in milliseconds since 1970, the other
// 72 random. As with UUIDv7, an id made in a later millisecond sorts after
// every id made before it, so an index keyed by ids grows at its right edge
// instead of at a random page: recording a payment touches pages of the
// indexes keyed by its id and by its movement's (payments, movement_refs
// by movement) that are already in memory, and after a checkpoint far
// fewer of them are copied whole into the WAL. (Stripe's own ids, the
// refs themselves, stay as random as Stripe makes them.)
// Ids name things; they are not secrets (keys and signing secrets are made
// apart), and 72 random bits per millisecond keep them unique.
func New(prefix string) string {
	return newAt(prefix, time.Now())
}

// newAt makes the id New would make at now.
func newAt(prefix string, now time.Time) string {
	var b [15]byte
	// The milliseconds' low 48 bits fill b[:6]; b[6:8] is random below.
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails on supported platforms
	var enc [24]byte        // 15 bytes are exactly 24 base32 digits
	encoding.Encode(enc[:], b[:])
	// One allocation, the id itself: every request without an
	// X-Request-Id of its own gets one.
	var id strings.Builder
	id.Grow(len(prefix) + 1 + len(enc))
	id.WriteString(prefix)
	id.WriteByte('_')
	id.Write(enc[:])
	return id.String()
}
