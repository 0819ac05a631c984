package main

import (
	"testing"
	"time"
)

func TestTheProviderDataSetPlantsEachDifferenceInTheWindow(t *testing.T) {
	found, pulled := expected(100000)
	if found != 500 || pulled != 100 {
		t.Fatalf("found %d, pulled %d; want 500 and 100", found, pulled)
	}
	window := time.Now().Add(-30 * 24 * time.Hour)
	for _, i := range []int{1, 50000, 100000} {
		p := makeProviderPayment(i, 100000)
		if !p.created.After(window) || p.created.After(time.Now()) {
			t.Errorf("payment %d created %v, outside the last 30 days", i, p.created)
		}
	}
}
