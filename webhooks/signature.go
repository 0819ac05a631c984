package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// verifier checks a Stripe-Signature header against every configured
// secret. It accepts and refuses exactly what stripe-go v76's
// webhook.ValidatePayloadWithTolerance does, secret by secret (a fuzz test
// holds it to that), and adds what stripe-go leaves out: several secrets
// during a rotation, and refusing timestamps too far in the future
// (stripe-go only refuses old ones, so a header signed ahead of time would
// stay valid for as long as its author liked).
//
// It is its own code rather than a loop over stripe-go because stripe-go
// parses the header again and builds a fresh HMAC for each secret, and
// allocates for every part of the header: here the header is read once,
// without allocating, and each secret's keyed HMAC is reused from a pool.
type verifier struct {
	secrets   []string
	macs      []*sync.Pool // of *macState, keyed with secrets[i]
	tolerance time.Duration
}

// newVerifier keeps the secrets that are not blank: an empty secret would
// accept an HMAC anyone can compute.
func newVerifier(secrets []string, tolerance time.Duration) verifier {
	v := verifier{tolerance: tolerance}
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			key := []byte(s)
			v.secrets = append(v.secrets, s)
			v.macs = append(v.macs, &sync.Pool{New: func() any {
				return &macState{mac: hmac.New(sha256.New, key)}
			}})
		}
	}
	return v
}

// macState is one reusable HMAC with room for what it hashes and returns,
// so that nothing escapes per request.
type macState struct {
	mac hash.Hash
	ts  [24]byte
	sum [sha256.Size]byte
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
	var h signedHeader
	h.parse(header)
	if !h.hasTime || h.badTime {
		// stripe-go would read a missing t= as year 1 and call it stale;
		// it is a broken header.
		return errBadHeader
	}
	at := time.Unix(h.timestamp, 0)
	if at.Sub(now) > v.tolerance {
		return errOutOfTolerance
	}
	switch {
	case len(v.secrets) == 0:
		return errNoMatch
	case h.badPair:
		return errBadHeader // no secret can help
	case !h.anySig:
		return errNoMatch
	case now.Sub(at) > v.tolerance:
		return errOutOfTolerance
	}
	for i := range v.secrets {
		if v.matches(i, payload, &h) {
			return nil
		}
	}
	return errNoMatch
}

// matches reports whether one of h's signatures is the HMAC of
// "timestamp.payload" with secret i.
func (v *verifier) matches(i int, payload []byte, h *signedHeader) bool {
	if h.n == 0 {
		return false // no signature of the right size: nothing to compute
	}
	m := v.macs[i].Get().(*macState)
	defer v.macs[i].Put(m)
	m.mac.Reset()
	ts := strconv.AppendInt(m.ts[:0], h.timestamp, 10)
	ts = append(ts, '.')
	m.mac.Write(ts)
	m.mac.Write(payload)
	sum := m.mac.Sum(m.sum[:0])
	ok := false
	// Every signature is compared, in constant time, whatever an earlier
	// one gave.
	for i := range h.n {
		if hmac.Equal(sum, h.sig(i)) {
			ok = true
		}
	}
	return ok
}

// signedHeader is a Stripe-Signature header ("t=1495999758,v1=ABC,v1=DEF,
// v0=GHI") as read once.
type signedHeader struct {
	timestamp int64 // the last t=
	hasTime   bool  // a t= was present
	// badTime: a t= is not an integer. It is kept apart from badPair
	// because a timestamp too far ahead is refused as such whatever the
	// rest of the header says.
	badTime bool
	// badPair: a part does not split into exactly one key and one value,
	// which stripe-go refuses as an invalid header.
	badPair bool
	// anySig: a v1= value is hex (of any length, even empty), which
	// stripe-go counts as a signature.
	anySig bool
	// n is how many v1= values are of a SHA-256's size: the first four in
	// first (the usual header has one or two, and then nothing is
	// allocated), any others in more.
	n     int
	first [4][sha256.Size]byte
	more  [][sha256.Size]byte
}

// sig is the i-th v1= signature of a SHA-256's size.
func (h *signedHeader) sig(i int) []byte {
	if i < len(h.first) {
		return h.first[i][:]
	}
	return h.more[i-len(h.first)][:]
}

// parse reads header the way stripe-go does, without allocating (unless
// it carries more than four signatures).
func (h *signedHeader) parse(header string) {
	for pair := range strings.SplitSeq(header, ",") {
		key, val, found := strings.Cut(pair, "=")
		switch {
		case key == "t" && found:
			// Read before the pair's shape is judged, as a "t=1=2" makes
			// the timestamp unreadable, not just the header malformed.
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				h.badTime = true
				continue
			}
			h.timestamp, h.hasTime = n, true
		case !found || strings.Contains(val, "="):
			h.badPair = true
		case key == "v1" && validHex(val):
			h.anySig = true
			if len(val) == 2*sha256.Size {
				var sig [sha256.Size]byte
				for i := range sig {
					sig[i] = unhex(val[2*i])<<4 | unhex(val[2*i+1])
				}
				if h.n < len(h.first) {
					h.first[h.n] = sig
				} else {
					h.more = append(h.more, sig)
				}
				h.n++
			}
		}
	}
}

// unhex is the value of a hex digit validHex accepted.
func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// validHex reports whether hex.DecodeString would accept s.
func validHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := range len(s) {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
