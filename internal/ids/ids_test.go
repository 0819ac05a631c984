package ids_test

import (
	"regexp"
	"testing"

	"github.com/payrecon/reconciler/internal/ids"
)

func TestNew(t *testing.T) {
	shape := regexp.MustCompile(`^pay_[0-9a-hjkmnp-tv-z]{24}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := ids.New("pay")
		if !shape.MatchString(id) {
			t.Fatalf("id %q is not pay_ and 24 lower-case base32 digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
}
