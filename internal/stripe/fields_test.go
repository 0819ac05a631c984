package stripe

import (
	"encoding/json"
	"testing"
)

// FuzzPlainReadsAgree holds the walks that read metadata and id strings
// without encoding/json to what encoding/json reads from the same bytes:
// metadata[key] through a map (the last of a repeated key, keys and values
// unescaped, invalid UTF-8 replaced), and an id string unquoted.
func FuzzPlainReadsAgree(f *testing.F) {
	for _, s := range []string{
		`{"invoice_id":"inv_1"}`,
		`{"order":"7","invoice_id":"inv_1","note":{"invoice_id":"inv_2"}}`,
		`{"invoice_id":"inv_1","invoice_id":"inv_2"}`,
		`{"invoice_id":"inv_1","invoice\u005fid":"inv_2"}`,
		`{"invoice\u005fid":"inv_2","invoice_id":"inv_1"}`,
		`{"Invoice_ID":"inv_1"}`,
		`{"invoice_id":"inv_\u0031"}`,
		`{"invoice_id":"inv_é"}`,
		"{\"invoice_id\":\"inv_\xff\"}",
		"{\"inv\xffoice_id\":\"x\",\"invoice_id\":\"inv_1\"}",
		"{\"invoice_id\":\"a\tb\"}",
		`{"invoice_id":""}`,
		`{"invoice_id":1}`,
		`{"invoice_id":null}`,
		`{"invoice_id":["inv_1"]}`,
		` { "invoice_id" : "inv_1" , "x" : [ {"invoice_id":"no"} ] } `,
		`{"invoice_id":"inv_1"`,
		`{"invoice_id":"inv_1"}}`,
		`{}`, `[]`, `"inv_1"`, `"ch_1"`, `"ch_\"1"`, `"`, `""`, `"ch_1`, "\"ch_\x01\"", `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := metadataString(raw, metaInvoiceID), referenceMetadataString(raw, metaInvoiceID); got != want {
			t.Fatalf("metadata %q: read %q, encoding/json reads %q", raw, got, want)
		}
		if len(raw) == 0 || raw[0] != '"' {
			return
		}
		got, err := expandableID(raw, "data.object.latest_charge")
		var want string
		wantErr := json.Unmarshal(raw, &want)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("id %q: read %q (%v), encoding/json reads %q (%v)", raw, got, err, want, wantErr)
		}
	})
}

// referenceMetadataString is metadataString through encoding/json alone.
func referenceMetadataString(raw []byte, key string) string {
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var s string
	if v := m[key]; len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}
