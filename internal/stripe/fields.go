package stripe

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// decodeJSON unmarshals and rewrites type errors to name the JSON field
// under path, because encoding/json's message names our private Go types,
// which mean nothing to whoever reads the log.
func decodeJSON(raw []byte, v any, path string) error {
	err := json.Unmarshal(raw, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return fmt.Errorf("%s is a JSON %s, want an object", path, typeErr.Value)
	case errors.As(err, &typeErr):
		return fmt.Errorf("%s.%s is a JSON %s, want %s", path, typeErr.Field, typeErr.Value, typeErr.Type)
	default:
		return fmt.Errorf("%s: %v", path, err)
	}
}

// decodeValid is decodeJSON for a value already known to be valid JSON:
// data.object and what it holds, which the envelope's read checked. It
// decodes with goccy/go-json, which reads the same values as encoding/json
// in about half its time (BenchmarkDecode: 45 to 23 µs an event),
// and leaves to encoding/json, the reference, whatever goccy refuses (so
// every error reads as before) and any text that is not valid UTF-8 (which
// encoding/json replaces and goccy may not). FuzzObjectDecodersAgree holds
// the two to the same values.
func decodeValid(raw []byte, v any, path string) error {
	if utf8.Valid(raw) && gojson.Unmarshal(raw, v) == nil {
		return nil
	}
	reflect.ValueOf(v).Elem().SetZero()
	return decodeJSON(raw, v, path)
}

// checkObjectType rejects an object of the wrong kind, since reading, say, a
// charge as a payment intent would record a ch_ id as the payment reference.
// decodeObject decodes data.object into o and checks what every object
// the ledger reads shares: it is a want, with an id. object and id point
// into o, at its object and id fields.
func decodeObject(raw json.RawMessage, o any, want string, object, id *string) error {
	if err := decodeValid(raw, o, "data.object"); err != nil {
		return err
	}
	if err := checkObjectType(*object, want); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("data.object.id is missing")
	}
	return nil
}

func checkObjectType(got, want string) error {
	if got != want {
		return fmt.Errorf("data.object.object is %q, want %q", got, want)
	}
	return nil
}

// expandableID reads a field Stripe sends as an id string, as null, or, when
// the request that caused the event asked for expansion, as the full object.
// Absent, null and "" all return "", so callers decide whether that is
// acceptable. A present value of any other shape is an error rather than
// "absent", because silently falling back to another reference would break
// matching later refunds.
func expandableID(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	switch raw[0] {
	case 'n': // null
		return "", nil
	case '"':
		id, err := stringValue(raw)
		if err != nil {
			return "", fmt.Errorf("%s: %v", field, err)
		}
		return id, nil
	case '{':
		var obj struct {
			ID *string `json:"id"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil || obj.ID == nil || *obj.ID == "" {
			return "", fmt.Errorf("%s is an expanded object without a string id", field)
		}
		return *obj.ID, nil
	default:
		return "", fmt.Errorf("%s is neither an id string nor an object", field)
	}
}

// metadataString returns metadata[key] if it is a non-empty string. Anything
// else is treated as absent instead of failing the event: metadata is free-form
// and only helps matching, so a stray value must not block recording money.
// A map rather than a struct tag keeps the key match exact, as encoding/json
// matches struct fields case-insensitively.
func metadataString(raw json.RawMessage, key string) string {
	if len(raw) == 0 || raw[0] != '{' {
		return ""
	}
	if s, ok := plainMetadataString(raw, key); ok {
		return s
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	v := m[key]
	if len(v) == 0 || v[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// plainMetadataString is metadataString for the metadata Stripe sends:
// valid JSON whose keys are ASCII without escapes, read in one walk
// instead of into a map (the map and its decoding were a fifth of decoding
// a payment's event). As in encoding/json's map, the last member of a key
// repeated counts. ok is false for any other object; metadataString then
// decodes it.
// The walk needs valid JSON and metadataString takes any bytes, so they
// are checked here, which costs little at metadata's size.
func plainMetadataString(raw []byte, key string) (s string, ok bool) {
	if !validJSON(raw) {
		return "", false
	}
	var val []byte
	plain := eachMember(raw, 0, func(k, v []byte) bool {
		if string(k) == key {
			val = v
		}
		return plainKey(k)
	})
	switch {
	case !plain:
		return "", false
	case val == nil || val[0] != '"':
		return "", true // absent, or not a string: metadataString's ""
	}
	s, err := stringValue(val)
	if err != nil {
		return "", true
	}
	return s, true
}

// stringValue returns the string the JSON string value raw decodes to: its
// bytes as they are when encoding/json would give them unchanged
// (plainContent), as encoding/json decodes them otherwise.
func stringValue(raw []byte) (string, error) {
	if in, ok := plainContent(raw); ok {
		return string(in), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// plainContent returns what is between the quotes of a JSON string value
// whose bytes encoding/json gives unchanged: without escapes or control
// characters, in valid UTF-8. ok is false for any other value.
func plainContent(raw []byte) (in []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	in = raw[1 : len(raw)-1]
	for _, c := range in {
		if c < 0x20 || c == '\\' || c == '"' {
			return nil, false
		}
	}
	return in, utf8.Valid(in)
}

// normalizeCurrency lower-cases an ISO 4217 code. It is ASCII-only on purpose:
// strings.ToLower would turn the Kelvin sign (U+212A) into "k" and let a
// non-ASCII code through the three-letter check.
func normalizeCurrency(s string, field string) (string, error) {
	if len(s) != 3 {
		return "", fmt.Errorf("%s %q is not a three-letter currency code", field, s)
	}
	var b [3]byte
	for i := range 3 {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		default:
			return "", fmt.Errorf("%s %q is not a three-letter currency code", field, s)
		}
		b[i] = c
	}
	return string(b[:]), nil
}
