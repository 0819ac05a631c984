package ui

import (
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		amount   reconcile.Amount
		currency string
		want     string
	}{
		{0, "usd", "$0.00"},
		{4000, "usd", "$40.00"},
		{123456, "usd", "$1,234.56"},
		{100000000, "usd", "$1,000,000.00"},
		{-123456, "eur", "-€1,234.56"},
		{123456, "gbp", "£1,234.56"},
		{1234567, "jpy", "¥1,234,567"},
		{1500, "kwd", "1.500 KWD"},
		{123456789, "sek", "1,234,567.89 SEK"},
		{99, "cad", "CA$0.99"},
	} {
		t.Run(c.want+" is how "+c.currency+" "+itoa(int(c.amount))+" reads", func(t *testing.T) {
			if got := money(c.amount, c.currency); got != c.want {
				t.Fatalf("money(%d, %s) = %q, want %q", c.amount, c.currency, got, c.want)
			}
		})
	}
}
