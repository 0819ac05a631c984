package stripe

import "testing"

func BenchmarkDecode(b *testing.B) {
	payload := readTestdata(b, "payment_intent.succeeded.json")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEnvelope(b *testing.B) {
	payload := readTestdata(b, "payment_intent.succeeded.json")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEnvelope(payload); err != nil {
			b.Fatal(err)
		}
	}
}
