// Package ids makes the random, prefixed ids of everything the service
// creates ("pay_8k2...", "job_...").
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// encoding is Crockford-like base32 in lower case: ids read aloud well and
// sort as bytes.
var encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New makes a random id with a prefix, such as "pay_8k2...": 120 random bits.
func New(prefix string) string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	var enc [24]byte       // 15 bytes are exactly 24 base32 digits
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
