package ids

import (
	"testing"
	"time"
)

// TestNewSortsByTime: an id made in a later millisecond sorts after one
// made earlier, across the byte boundaries of the time, whatever their
// random parts; ids of one millisecond share its digits and differ after.
func TestNewSortsByTime(t *testing.T) {
	start := time.Date(2026, 12, 2, 19, 30, 0, 0, time.UTC)
	steps := []time.Duration{time.Millisecond, 255 * time.Millisecond, 256 * time.Millisecond,
		time.Second, time.Hour, 24 * time.Hour, 365 * 24 * time.Hour}
	for _, step := range steps {
		for range 200 {
			earlier, later := newAt("pay", start), newAt("pay", start.Add(step))
			if earlier >= later {
				t.Fatalf("%s, made %v before %s, does not sort before it", earlier, step, later)
			}
		}
	}
	a, b := newAt("pay", start), newAt("pay", start)
	// 48 bits of time are the first 9.6 digits: the first 9 are the same.
	if a[:4+9] != b[:4+9] || a == b {
		t.Fatalf("ids of one millisecond %s and %s: want the same first 9 digits and different ids", a, b)
	}
}
