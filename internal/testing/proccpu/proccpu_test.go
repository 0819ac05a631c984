package proccpu_test

import (
	"os"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/proccpu"
)

// TestSeconds: this process's CPU reads and grows with work; a process
// that does not exist reads as unknown.
func TestSeconds(t *testing.T) {
	before, ok := proccpu.Seconds(os.Getpid())
	if !ok {
		t.Skip("no /proc here")
	}
	sum := 0
	for after := before; after <= before; after, _ = proccpu.Seconds(os.Getpid()) {
		for i := range 1_000_000 {
			sum += i
		}
	}
	if _, ok := proccpu.Seconds(1 << 30); ok {
		t.Error("a process that does not exist read as known")
	}
	_ = sum
}
