package reqlog

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestValidIDMatchesItsPattern checks the byte loop against the pattern it
// replaced, on random strings built mostly from the edges of the allowed
// set.
func TestValidIDMatchesItsPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	alphabet := []byte("azAZ09._:-/;@[`{ \t\n\x00\x7f\xc3\xa9")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(70))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(3) > 0 {
				b[i] = alphabet[rng.IntN(10)] // allowed, so long valid ids occur
			}
		}
		if got, want := validID(string(b)), pattern.MatchString(string(b)); got != want {
			t.Fatalf("validID(%q) = %v, the pattern says %v", b, got, want)
		}
	}
}
