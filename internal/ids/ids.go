// Package ids makes the random, prefixed ids of everything the service
// creates ("pay_8k2...", "job_...").
package ids

import (
	"crypto/rand"
	"encoding/base32"
)

// encoding is Crockford-like base32 in lower case: ids read aloud well and
// sort as bytes.
var encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New makes a random id with a prefix, such as "pay_8k2...": 120 random bits.
func New(prefix string) string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + "_" + encoding.EncodeToString(b[:])
}
