package stripe

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzQuickEnvelope holds quickEnvelope to encoding/json: whenever it
// answers, encoding/json must read the same envelope without an error.
func FuzzQuickEnvelope(f *testing.F) {
	for _, b := range allTestdata(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":"evt_1","object":"event","type":"x","created":1,"livemode":true,"data":{"object":{}}}`,
		`{"id":"evt_1","id":"evt_2","object":"event","type":"x","data":{"object":{}}}`,
		`{"ID":"evt_1","object":"event","type":"x","data":{"object":{}}}`,
		`{"\u0069d":"evt_1","object":"event","type":"x","data":{"object":{}}}`,
		`{"id":"evt_\u0031","object":"event","type":"x","data":{"object":{}}}`,
		`{"id":"evt_1","object":"event","type":"x","data":{"object":{},"OBJECT":null}}`,
		`{"id":"evt_1","object":"event","type":"x","data":{"object":{},"object":[1]}}`,
		`{"id":"evt_1","object":"event","type":"x","data":null}`,
		`{"id":"evt_1","object":"event","type":"x","data":{"object":"{\"}"}}`,
		`{"id":"evt_1","object":"event","type":"x","created":1e3,"data":{"object":{}}}`,
		`{"id":"evt_1","object":"event","type":"x","created":-0,"livemode":null,"data":{"object":{}}}`,
		`{"id":"evt_1","object":"event","type":"x","created":99999999999999999999,"data":{"object":{}}}`,
		`{"id":5,"object":"event","type":"x","data":{"object":{}}}`,
		`{"id":"evt_\xff","object":"event","type":"x","data":{"object":{}}}`,
		`{"id":"evt_1","objeſt":"event","type":"x","data":{"object":{}}}`,
		` { "id" : "evt_1" , "object" : "event" , "type" : "x" , "data" : { "object" : { } } } `,
		`{"a":[{"b":"}\\\""}],"id":"evt_1","object":"event","type":"x","data":{"x":[],"object":{"y":"]"}}}`,
		`{"x":"\\\\","id":"evt_1","y":["\\\"}",{"z":"\\"}],"object":"event","type":"x","data":{"object":{"q":"\""}}}`,
		`[]`, `null`, `"evt_1"`, `{}`, `{"id":"evt_1"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		quick, ok := quickEnvelope(payload)
		if !ok {
			return
		}
		var want envelope
		if err := decodeJSON(payload, &want, "body"); err != nil {
			t.Fatalf("quickEnvelope read %+v; encoding/json: %v", quick, err)
		}
		if quick.ID != want.ID || quick.Object != want.Object || quick.Type != want.Type ||
			quick.Created != want.Created || quick.Livemode != want.Livemode ||
			!bytes.Equal(quick.Data.Object, want.Data.Object) || (quick.Data.Object == nil) != (want.Data.Object == nil) {
			t.Fatalf("quickEnvelope read %+v, encoding/json %+v", quick, want)
		}
	})
}

// TestQuickEnvelopeReadsStripeEvents checks that the quick path is the one
// taken for what Stripe sends, not only correct when taken.
func TestQuickEnvelopeReadsStripeEvents(t *testing.T) {
	for name, b := range allTestdata(t) {
		if _, ok := quickEnvelope(b); !ok {
			t.Errorf("%s: quickEnvelope left it to encoding/json", name)
		}
	}
}

// FuzzValidAgrees holds quickEnvelope's validity check to encoding/json's:
// whatever it accepts, encoding/json accepts (the walk after it relies on
// that), and it accepts whatever Stripe sends (TestQuickEnvelopeReadsStripeEvents).
func FuzzValidAgrees(f *testing.F) {
	for _, b := range allTestdata(f) {
		f.Add(b)
	}
	for _, n := range []int{maxQuickBrackets, maxQuickBrackets + 1, 10000, 10001} {
		f.Add(nested(n))
	}
	for _, s := range []string{
		`{"a":"\u0001"}`, "{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
		`{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":tru}`, `{"a":nul}`, `{"a":[1,]}`, `{"a":1,}`, `{,}`,
		`{"a" 1}`, `{"a":1}x`, `{"a":1} `, "\ufeff{}", `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `[[[[]]]]`, `]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if validJSON(payload) && !json.Valid(payload) {
			t.Fatalf("validJSON accepts %q, encoding/json refuses it", payload)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	payload := readTestdata(b, "payment_intent.succeeded.json")
	b.SetBytes(int64(len(payload)))
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(payload)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		for b.Loop() {
			validJSON(payload)
		}
	})
}

// nested is n arrays, each inside the one before.
func nested(n int) []byte {
	return append(bytes.Repeat([]byte{'['}, n), bytes.Repeat([]byte{']'}, n)...)
}

// TestDeepNestingTakesEncodingJSONsPath checks that a body nested deeper
// than the quick path's bound is left to encoding/json, which refuses more
// than 10,000 levels at once, rather than walked level by level.
func TestDeepNestingTakesEncodingJSONsPath(t *testing.T) {
	deep := []byte(`{"id":"evt_1","object":"event","type":"x","data":{"object":{"a":` + string(nested(10001)) + `}}}`)
	if _, ok := quickEnvelope(deep); ok {
		t.Fatal("quickEnvelope read a body nested 10,001 levels deep")
	}
	if _, err := DecodeEnvelope(deep); err == nil {
		t.Fatal("DecodeEnvelope accepted a body nested 10,001 levels deep")
	}
	if !validJSON(nested(maxQuickBrackets)) || validJSON(nested(maxQuickBrackets+1)) {
		t.Fatalf("validJSON's bound is not %d brackets", maxQuickBrackets)
	}
}
