package stripe

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// FuzzObjectDecodersAgree holds decodeValid's fast decoder to the
// reference: on any valid JSON in valid UTF-8, goccy/go-json either refuses
// an object the ledger reads (decodeValid then asks encoding/json) or reads
// exactly what encoding/json reads.
func FuzzObjectDecodersAgree(f *testing.F) {
	for name, b := range allTestdata(f) {
		var env struct {
			Data struct {
				Object json.RawMessage `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		f.Add([]byte(env.Data.Object))
	}
	for _, s := range []string{
		`{"object":"payment_intent","id":"pi_1","ID":"pi_2","Amount_Received":5,"amount_received":7}`,
		`{"id":"pi_1","invoice":null,"latest_charge":{"id":"ch_1"},"metadata":{"invoice_id":"inv_\u00e9\ud800"}}`,
		`{"id":"\ud83d\ude00","amount":1e3,"amount_received":-0,"currency":"usd","refunds":{"data":[{"id":"re_1"},null]}}`,
		`{"id":"x","amount":9223372036854775808,"last_payment_error":null}`,
		`{"id":"x","amount":1.0,"payment_intent":"pi_1","refunds":null}`,
		`{"id":"x", "metadata" : { "invoice_id" : 1 } , "amount_paid":2}`,
		`{"id":"\ud800x","currency":"\udfff","object":"a\u0000b\/c"}`,
		`[]`, `null`, `"id"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || !utf8.Valid(raw) {
			return // decodeValid gives these to encoding/json alone
		}
		agree[paymentIntentObject](t, raw)
		agree[checkoutSessionObject](t, raw)
		agree[invoiceObject](t, raw)
		agree[chargeObject](t, raw)
		agree[refundObject](t, raw)
		agree[disputeObject](t, raw)
		agree[invoicePaymentObject](t, raw)
	})
}

// agree fails t if goccy/go-json reads raw as a T other than encoding/json does.
func agree[T any](t *testing.T, raw []byte) {
	t.Helper()
	var fast, ref T
	if gojson.Unmarshal(raw, &fast) != nil {
		return
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%T: goccy/go-json read %s, encoding/json refused it: %v", ref, raw, err)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("%T of %s:\ngoccy/go-json %+v\nencoding/json %+v", ref, raw, fast, ref)
	}
}
