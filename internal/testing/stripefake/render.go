package stripefake

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
)

//go:embed testdata/*.json
var examples embed.FS

// Example returns Stripe's example object of a resource, as the fake's
// templates hold it: "payment_intent", "charge", "refund", "dispute",
// "balance_transaction" or "event". It panics for any other name.
func Example(resource string) []byte {
	b, err := examples.ReadFile("testdata/" + resource + ".json")
	if err != nil {
		panic(fmt.Sprintf("stripefake: no example %q", resource))
	}
	return b
}

// template is an example object split into its fields, so that rendering
// one object copies bytes and never re-encodes the fields it keeps.
type template struct {
	keys   []string // sorted
	quoted [][]byte // keys[i] as a JSON string
	vals   map[string]json.RawMessage
}

func loadTemplate(resource string) *template {
	var vals map[string]json.RawMessage
	if err := json.Unmarshal(Example(resource), &vals); err != nil {
		panic(fmt.Sprintf("stripefake: example %s: %v", resource, err))
	}
	for k, v := range vals {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			panic(fmt.Sprintf("stripefake: example %s.%s: %v", resource, k, err))
		}
		vals[k] = buf.Bytes()
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	quoted := make([][]byte, len(keys))
	for i, k := range keys {
		quoted[i] = jsonString(k)
	}
	return &template{keys: keys, quoted: quoted, vals: vals}
}

type templateSet struct {
	paymentIntent, charge, refund, dispute, balanceTransaction *template
}

var templates = sync.OnceValue(func() *templateSet {
	return &templateSet{
		paymentIntent:      loadTemplate("payment_intent"),
		charge:             loadTemplate("charge"),
		refund:             loadTemplate("refund"),
		dispute:            loadTemplate("dispute"),
		balanceTransaction: loadTemplate("balance_transaction"),
	}
})

// field is a value written over a template's: JSON bytes, or nil to leave
// the field out of the object.
type field struct {
	key string
	val []byte
}

// render writes the template with fields written over it; a field the
// template lacks is added.
func (t *template) render(b *bytes.Buffer, fields ...field) {
	b.WriteByte('{')
	first := true
	put := func(quotedKey, v []byte) {
		if v == nil {
			return
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(quotedKey)
		b.WriteByte(':')
		b.Write(v)
	}
	for i, k := range t.keys {
		v := t.vals[k]
		for _, f := range fields {
			if f.key == k {
				v = f.val
				break
			}
		}
		put(t.quoted[i], v)
	}
	for _, f := range fields {
		if _, ok := t.vals[f.key]; !ok {
			put(jsonString(f.key), f.val)
		}
	}
	b.WriteByte('}')
}

var jsonNull = []byte("null")

// appendJSONString appends s as a JSON string. Ids and codes need no
// escaping, so only other strings go through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func jsonString(s string) []byte { return appendJSONString(nil, s) }

// values encodes one object's field values into one buffer, reset per
// object, so that rendering 100,000 objects does not allocate each field.
// A value stays valid until the next reset: growing the buffer copies it,
// and the old bytes stay where the value points.
type values struct{ buf []byte }

func (v *values) reset() { v.buf = v.buf[:0] }

func (v *values) done(start int) []byte { return v.buf[start:len(v.buf):len(v.buf)] }

func (v *values) str(s string) []byte {
	start := len(v.buf)
	v.buf = appendJSONString(v.buf, s)
	return v.done(start)
}

// strOrNull is null for "", as Stripe shows an absent id.
func (v *values) strOrNull(s string) []byte {
	if s == "" {
		return jsonNull
	}
	return v.str(s)
}

func (v *values) int(n int64) []byte {
	start := len(v.buf)
	v.buf = strconv.AppendInt(v.buf, n, 10)
	return v.done(start)
}

func (v *values) bool(b bool) []byte {
	start := len(v.buf)
	v.buf = strconv.AppendBool(v.buf, b)
	return v.done(start)
}

// metadata renders metadata pairs as Stripe's metadata object.
func (v *values) metadata(md []metadataPair) []byte {
	start := len(v.buf)
	v.buf = append(v.buf, '{')
	for i, p := range md {
		if i > 0 {
			v.buf = append(v.buf, ',')
		}
		v.buf = appendJSONString(v.buf, p.key)
		v.buf = append(v.buf, ':')
		v.buf = appendJSONString(v.buf, p.value)
	}
	v.buf = append(v.buf, '}')
	return v.done(start)
}
