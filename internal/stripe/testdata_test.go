package stripe

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// readTestdata returns a testdata file's bytes, failing the test if missing.
func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// allTestdata returns every testdata event's bytes, by file name.
func allTestdata(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no testdata: %v", err)
	}
	out := make(map[string][]byte, len(files))
	for _, name := range files {
		out[name] = readTestdata(tb, filepath.Base(name))
	}
	return out
}

// mutated loads a testdata event, lets edit change it, and re-encodes it, so
// that error cases start from a realistic Stripe payload and differ from it in
// exactly one way. edit receives the event and its data.object.
func mutated(tb testing.TB, name string, edit func(event, object map[string]any)) []byte {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(readTestdata(tb, name)))
	dec.UseNumber() // keep integers exact through the round trip
	var event map[string]any
	if err := dec.Decode(&event); err != nil {
		tb.Fatal(err)
	}
	object := event["data"].(map[string]any)["object"].(map[string]any)
	edit(event, object)
	b, err := json.Marshal(event)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
