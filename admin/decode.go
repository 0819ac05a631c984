package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/payrecon/reconciler/internal/textcheck"
	"github.com/payrecon/reconciler/reconcile"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// readBody reads the whole body, refusing one over MaxBody with 413. Job
// writes need the raw bytes for their request hash, so the body is read once
// and decoded from memory.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, httpErr(http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("body is over the limit of %d bytes", MaxBody))
	}
	if err != nil {
		return nil, invalid("unreadable_body", "body could not be read: "+err.Error())
	}
	return body, nil
}

// DecodeJSON reads the body and decodes it strictly into v, as every route
// of this API does: one JSON object, no unknown fields, nothing after it.
// Its errors are answered by WriteError.
func (a *API) DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v, false)
}

// decodeStrict decodes body, which must be exactly one JSON object, into v.
// With emptyOK an empty body stands for {} (bodies that are all optional).
func decodeStrict(body []byte, v any, emptyOK bool) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if emptyOK {
			return nil
		}
		return invalid("malformed_json", "body must be a JSON object")
	}
	// A top-level null would decode into a struct as "nothing given".
	if trimmed[0] != '{' {
		return invalid("malformed_json", "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("malformed_json", "body must hold one JSON object and nothing after it")
	}
	return nil
}

// decodeError turns a decoder error into a 400 that names the field.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return invalid("malformed_json", fmt.Sprintf("body is not valid JSON at byte %d: %v", syntax.Offset, err))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("malformed_json", "body ends inside its JSON object")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return invalid("invalid_field", fmt.Sprintf("%s must be %s, not a JSON %s", field, describe(typ.Type), typ.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid("invalid_field", "unknown field "+name)
	}
	return invalid("malformed_json", "body is not valid JSON: "+err.Error())
}

// describe names the JSON shape a Go type expects.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// parseAmount reads a required amount of minor units. It takes the raw JSON
// because a json.Number accepts "1250" and the decoder accepts 12.5 into a
// float: only a bare JSON integer such as 1250 is money here.
func parseAmount(field string, raw json.RawMessage) (reconcile.Amount, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, invalid("invalid_"+field, field+" is required")
	}
	bad := invalid("invalid_"+field, field+" must be a JSON integer of minor units, such as 1250")
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, bad
	}
	n, err := strconv.ParseInt(string(raw), 10, 64) // refuses 12.5, 1e3 and overflow
	if err != nil {
		return 0, bad
	}
	if n <= 0 {
		return 0, invalid("invalid_"+field, field+" must be positive")
	}
	return reconcile.Amount(n), nil
}

// parseDate reads an optional YYYY-MM-DD field; nil when absent or null.
func parseDate(field string, s *string) (*reconcile.Date, error) {
	if s == nil {
		return nil, nil
	}
	d, err := reconcile.ParseDate(*s)
	if err != nil {
		return nil, invalid("invalid_"+field, field+" must be a date YYYY-MM-DD")
	}
	return &d, nil
}

// checkNotes applies the ledger's limit on notes.
func checkNotes(notes string) error {
	if !textcheck.Valid(notes, textcheck.MaxNotes) {
		return invalid("invalid_notes", fmt.Sprintf("notes must be at most %d characters of text", textcheck.MaxNotes))
	}
	return nil
}

// parseLimit reads an optional page size: def when absent, at most ceiling.
func parseLimit(s string, def, ceiling int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, invalid("invalid_limit", "limit must be a whole number of at least 1")
	}
	return min(n, ceiling), nil
}
