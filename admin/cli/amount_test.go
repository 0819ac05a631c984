package cli

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, currency string
		want         int64
		err          string // a part of the error; "" for none
	}{
		{"12.50", "usd", 1250, ""},
		{"12.5", "usd", 1250, ""},
		{"12", "usd", 1200, ""},
		{"0.01", "usd", 1, ""},
		{"007.10", "usd", 710, ""},
		{"125.00", "USD", 12500, ""},
		{"12.505", "usd", 0, "too many decimals for usd (2)"},
		{"12.500", "usd", 0, "too many decimals for usd (2)"},
		{"1.000", "eur", 0, "too many decimals for eur (2)"},
		{"500", "jpy", 500, ""},
		{"500.5", "jpy", 0, "too many decimals for jpy (0)"},
		{"500.0", "jpy", 0, "too many decimals for jpy (0)"},
		{"1000", "krw", 1000, ""},
		{"1.5", "kwd", 1500, ""},
		{"1.234", "kwd", 1234, ""},
		{"1.2345", "kwd", 0, "too many decimals for kwd (3)"},
		{"0", "usd", 0, "must be positive"},
		{"0.00", "usd", 0, "must be positive"},
		{"-5", "usd", 0, "must be positive"},
		{"-0.01", "usd", 0, "must be positive"},
		{"", "usd", 0, "not a number"},
		{"+5", "usd", 0, "not a number"},
		{"1,000.00", "usd", 0, "not a number"},
		{"1e3", "usd", 0, "not a number"},
		{" 5", "usd", 0, "not a number"},
		{".5", "usd", 0, "not a number"},
		{"5.", "usd", 0, "not a number"},
		{"1.2.3", "usd", 0, "not a number"},
		{"١٢", "usd", 0, "not a number"}, // Arabic-Indic digits are not ASCII digits
		{"NaN", "usd", 0, "not a number"},
		{"92233720368547758.07", "usd", math.MaxInt64, ""},
		{"92233720368547758.08", "usd", 0, "too large"},
		{"92233720368547759", "usd", 0, "too large"},
		{"9223372036854775807", "jpy", math.MaxInt64, ""},
		{"9223372036854775808", "jpy", 0, "too large"},
		{"99999999999999999999999", "usd", 0, "too large"},
		{"9223372036854775.808", "kwd", 0, "too large"},
		{"5", "", 0, "not a currency code"},
		{"5", "us", 0, "not a currency code"},
		{"5", "us1", 0, "not a currency code"},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.currency, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.currency)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseAmount(%q, %q) = %d, %v; want an error with %q", tt.in, tt.currency, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseAmount(%q, %q) = %d, %v; want %d", tt.in, tt.currency, got, err, tt.want)
			}
		})
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1250, "usd", "12.50"},
		{1, "usd", "0.01"},
		{0, "usd", "0.00"},
		{-1250, "usd", "-12.50"},
		{-5, "usd", "-0.05"},
		{12345678, "eur", "123456.78"},
		{500, "jpy", "500"},
		{500, "JPY", "500"},
		{-500, "krw", "-500"},
		{1500, "kwd", "1.500"},
		{7, "bhd", "0.007"},
		{100, "xyz", "1.00"}, // an unknown currency has 2 decimals
		{math.MaxInt64, "usd", "92233720368547758.07"},
		{math.MinInt64, "usd", "-92233720368547758.08"},
		{math.MinInt64, "jpy", "-9223372036854775808"},
	}
	for _, tt := range tests {
		if got := FormatAmount(tt.minor, tt.currency); got != tt.want {
			t.Errorf("FormatAmount(%d, %q) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
	}
}

func TestDecimalsOfEveryListedCurrency(t *testing.T) {
	for _, c := range strings.Fields("jpy krw vnd clp isk ugx xaf xof bif djf gnf kmf mga pyg rwf vuv xpf") {
		if d := Decimals(c); d != 0 {
			t.Errorf("Decimals(%s) = %d, want 0", c, d)
		}
	}
	for _, c := range strings.Fields("bhd jod kwd omr tnd") {
		if d := Decimals(c); d != 3 {
			t.Errorf("Decimals(%s) = %d, want 3", c, d)
		}
	}
	for _, c := range strings.Fields("usd eur gbp chf") {
		if d := Decimals(c); d != 2 {
			t.Errorf("Decimals(%s) = %d, want 2", c, d)
		}
	}
}

// Every positive amount survives FormatAmount then ParseAmount, over the
// whole int64 range and near its edges.
func TestAmountRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, cur := range []string{"usd", "jpy", "kwd"} {
		samples := []int64{1, 9, 10, 99, 100, 101, 999, 1000, 1001, math.MaxInt64, math.MaxInt64 - 1}
		for range 20000 {
			// Spread over magnitudes, not only huge values.
			limit := int64(math.MaxInt64) >> rng.IntN(63)
			samples = append(samples, rng.Int64N(limit)+1)
		}
		for _, minor := range samples {
			s := FormatAmount(minor, cur)
			got, err := ParseAmount(s, cur)
			if err != nil || got != minor {
				t.Fatalf("%s: ParseAmount(FormatAmount(%d) = %q) = %d, %v", cur, minor, s, got, err)
			}
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.50", "1", "0.001", "9223372036854775807", "-1", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, cur := range []string{"usd", "jpy", "kwd"} {
			minor, err := ParseAmount(s, cur)
			if err != nil {
				continue
			}
			if minor <= 0 {
				t.Fatalf("ParseAmount(%q, %s) = %d: not positive", s, cur, minor)
			}
			again, err := ParseAmount(FormatAmount(minor, cur), cur)
			if err != nil || again != minor {
				t.Fatalf("%q %s: %d does not round-trip: %d, %v", s, cur, minor, again, err)
			}
			if strings.Trim(s, "0123456789.") != "" {
				t.Fatalf("ParseAmount(%q, %s) accepted a character other than digits and '.'", s, cur)
			}
		}
	})
}
