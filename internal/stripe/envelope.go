package stripe

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// quickEnvelope reads the envelope of an event in the plain shape Stripe
// sends (an object with ASCII keys, each envelope field once and of its
// kind) in one validating pass and one light walk, where encoding/json
// scans the whole body twice (a validity check, then the decode that skips
// data.object again): the envelope is read for every webhook, and these
// scans were half the web tier's CPU per event.
//
// It answers only what it is sure encoding/json would answer the same: ok
// is false for anything else (invalid JSON, escaped or non-ASCII or
// differently-cased keys, a field twice or of another kind, null), and the
// caller then decodes with encoding/json, whose answers and error messages
// stay the reference. FuzzQuickEnvelope holds the two together.
func quickEnvelope(payload []byte) (env envelope, ok bool) {
	// Everything below relies on the body being valid JSON: strings end,
	// brackets balance, literals are well formed.
	if !validJSON(payload) {
		return env, false
	}
	i := skipSpace(payload, 0)
	if payload[i] != '{' {
		return env, false
	}
	var seen [6]bool
	_, ok = members(payload, i, func(key []byte, at int) (int, bool) {
		field := envelopeField(key)
		switch {
		case field < 0:
			return skipValue(payload, at), field == unknownField
		case seen[field]:
			return 0, false // encoding/json keeps the last; rare enough to leave to it
		}
		seen[field] = true
		if field == fieldData {
			// Walked once, member by member: skipping data whole first
			// would walk its object, most of the body, twice.
			return envelopeData(payload, at, &env)
		}
		end := skipValue(payload, at)
		val := payload[at:end]
		switch field {
		case fieldID:
			return end, plainString(val, &env.ID)
		case fieldObject:
			return end, plainString(val, &env.Object)
		case fieldType:
			return end, plainString(val, &env.Type)
		case fieldCreated:
			n, err := strconv.ParseInt(string(val), 10, 64)
			env.Created = n
			return end, err == nil
		default: // fieldLivemode
			env.Livemode = val[0] == 't'
			return end, val[0] == 't' || val[0] == 'f'
		}
	})
	return env, ok
}

// envelopeData reads data.object's raw value into env from the valid
// JSON value at b[at], data's, and returns the index just past it; ok is
// false unless data is an object holding "object" once, under that exact
// key, and no member encoding/json could take for it.
func envelopeData(b []byte, at int, env *envelope) (end int, ok bool) {
	if b[at] != '{' {
		return 0, false
	}
	var object bool
	return members(b, at, func(key []byte, at int) (int, bool) {
		end := skipValue(b, at)
		if string(key) == "object" && !object {
			object, env.Data.Object = true, b[at:end]
			return end, true
		}
		// Another spelling of "object", or it twice: leave it to
		// encoding/json.
		return end, !bytes.EqualFold(key, []byte("object")) && plainKey(key)
	})
}

// maxQuickBrackets bounds the opening brackets of a body validJSON checks.
// gjson's check descends once per level of nesting, with no limit of its
// own: a 1 MiB body of brackets would take it a second and 128 MB of stack,
// where encoding/json refuses more than 10,000 levels within a
// millisecond. A body with fewer brackets nests no deeper than that, so
// below the bound the two agree on depth too; Stripe's events hold a few
// dozen (54 at most in testdata), and anything above goes to encoding/json.
const maxQuickBrackets = 4096

// validJSON reports whether payload is valid JSON, as encoding/json.Valid
// does, where it can answer faster: gjson's check is about five times
// encoding/json's on an event (BenchmarkValid). It accepts nothing
// encoding/json refuses (FuzzValidAgrees); it may refuse what
// encoding/json accepts, which then takes encoding/json's path.
func validJSON(payload []byte) bool {
	brackets := bytes.Count(payload, []byte{'{'}) + bytes.Count(payload, []byte{'['})
	return brackets <= maxQuickBrackets && gjson.ValidBytes(payload)
}

// The envelope's fields, as quickEnvelope numbers them.
const (
	fieldID = iota
	fieldObject
	fieldType
	fieldCreated
	fieldLivemode
	fieldData
	unknownField = -1 // a key that is none of them, in any case
	unsureField  = -2 // a key that may be one of them to encoding/json
)

var envelopeKeys = [...]string{"id", "object", "type", "created", "livemode", "data"}

// envelopeField says which field key names, exactly as encoding/json
// would match it (which includes case-insensitive matches, left unsure).
func envelopeField(key []byte) int {
	if !plainKey(key) {
		return unsureField
	}
	for f, name := range envelopeKeys {
		if string(key) == name {
			return f
		}
		if bytes.EqualFold(key, []byte(name)) {
			return unsureField
		}
	}
	return unknownField
}

// plainKey reports whether a raw key (between its quotes) is ASCII without
// escapes, so that its bytes are the name encoding/json compares.
func plainKey(key []byte) bool {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// plainString sets *s from a JSON string value that encoding/json would
// give unchanged (plainContent); ok is false for any other value.
func plainString(val []byte, s *string) bool {
	raw, ok := plainContent(val)
	if ok {
		*s = intern(raw)
	}
	return ok
}

// intern returns the values every event repeats (its object, the types
// the ledger handles) as constants, and copies any other.
func intern(raw []byte) string {
	switch string(raw) { // compiled without a copy
	case "event":
		return "event"
	case typePaymentIntentSucceeded:
		return typePaymentIntentSucceeded
	case typeCheckoutSessionCompleted:
		return typeCheckoutSessionCompleted
	case typeInvoicePaid:
		return typeInvoicePaid
	case typeChargeRefunded:
		return typeChargeRefunded
	}
	return string(raw)
}

// eachMember calls fn with the raw key (without its quotes) and the raw
// value of each member of the valid JSON object starting at b[i], until fn
// returns false; it reports whether fn never did.
func eachMember(b []byte, i int, fn func(key, val []byte) bool) bool {
	_, ok := members(b, i, func(key []byte, at int) (int, bool) {
		end := skipValue(b, at)
		return end, fn(key, b[at:end])
	})
	return ok
}

// members calls fn with the raw key (without its quotes) of each member of
// the valid JSON object starting at b[i] and the index of its value; fn
// returns the index just past the value, and whether to go on. members
// returns the index just past the object, and whether fn always went on.
func members(b []byte, i int, fn func(key []byte, at int) (end int, ok bool)) (int, bool) {
	i = skipSpace(b, i+1) // past '{'
	for b[i] != '}' {
		end := skipString(b, i)
		key := b[i+1 : end-1]
		i = skipSpace(b, skipSpace(b, end)+1) // past ':'
		end, ok := fn(key, i)
		if !ok {
			return 0, false
		}
		i = skipSpace(b, end)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return i + 1, true
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			for !structural[b[i]] {
				i++
			}
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			default: // '}', ']'
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
			i++
		}
		return i
	}
}

// structural marks the bytes that open or close a string, an object or an
// array: outside strings, all that skipValue has to look at.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// skipString returns the index just past the valid JSON string at b[i].
func skipString(b []byte, i int) int {
	for {
		i += 1 + bytes.IndexByte(b[i+1:], '"')
		// A quote after an odd run of backslashes is escaped. The run
		// stops at the opening quote at the latest.
		backslashes := 0
		for b[i-1-backslashes] == '\\' {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i + 1
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
