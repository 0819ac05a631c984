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
	keys []string // sorted
	vals map[string]json.RawMessage
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
	return &template{keys: keys, vals: vals}
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
	put := func(k string, v []byte) {
		if v == nil {
			return
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(jsonString(k))
		b.WriteByte(':')
		b.Write(v)
	}
	for _, k := range t.keys {
		if i := slices.IndexFunc(fields, func(f field) bool { return f.key == k }); i >= 0 {
			put(k, fields[i].val)
		} else {
			put(k, t.vals[k])
		}
	}
	for _, f := range fields {
		if _, ok := t.vals[f.key]; !ok {
			put(f.key, f.val)
		}
	}
	b.WriteByte('}')
}

var jsonNull = []byte("null")

func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// jsonStringOrNull is null for "", as Stripe shows an absent id.
func jsonStringOrNull(s string) []byte {
	if s == "" {
		return jsonNull
	}
	return jsonString(s)
}

func jsonInt(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

func jsonBool(v bool) []byte { return strconv.AppendBool(nil, v) }

// jsonMetadata renders metadata pairs as Stripe's metadata object.
func jsonMetadata(md []metadataPair) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range md {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(p.key))
		b.WriteByte(':')
		b.Write(jsonString(p.value))
	}
	b.WriteByte('}')
	return b.Bytes()
}
