package cli

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// zeroDecimal are the currencies whose minor unit is the major unit (Stripe
// sends 500 for 500 JPY).
var zeroDecimal = map[string]bool{
	"bif": true, "clp": true, "djf": true, "gnf": true, "isk": true, "jpy": true,
	"kmf": true, "krw": true, "mga": true, "pyg": true, "rwf": true, "ugx": true,
	"vnd": true, "vuv": true, "xaf": true, "xof": true, "xpf": true,
}

// threeDecimal are the currencies with 1000 minor units to the major one.
var threeDecimal = map[string]bool{"bhd": true, "jod": true, "kwd": true, "omr": true, "tnd": true}

// Decimals is the number of digits after the decimal point of currency's
// major unit: 0 for jpy, 3 for kwd, 2 for everything else.
func Decimals(currency string) int {
	c := strings.ToLower(currency)
	switch {
	case zeroDecimal[c]:
		return 0
	case threeDecimal[c]:
		return 3
	}
	return 2
}

// pow10 holds 10^0..10^3, all Decimals can return.
var pow10 = [...]int64{1, 10, 100, 1000}

// ParseAmount reads an amount typed in major units ("12.50") and returns it
// in the currency's minor unit (1250 for usd), exactly: the string is read
// digit by digit, never through a float. The amount must be positive and
// may have at most the currency's number of decimals. Extra digits are
// refused even when they are zeros, so a European "1.000" (one thousand)
// is never taken for 1.00 USD.
func ParseAmount(s, currency string) (int64, error) {
	cur := strings.ToLower(currency)
	if len(cur) != 3 || strings.Trim(cur, "abcdefghijklmnopqrstuvwxyz") != "" {
		return 0, fmt.Errorf("%q is not a currency code (such as usd)", currency)
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("amount %q: must be positive", s)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (hasPoint && (frac == "" || !allDigits(frac))) {
		return 0, fmt.Errorf("amount %q: not a number (digits, and '.' for decimals, such as 12.50)", s)
	}
	dec := Decimals(cur)
	if len(frac) > dec {
		return 0, fmt.Errorf("amount %q: too many decimals for %s (%d)", s, cur, dec)
	}
	frac += strings.Repeat("0", dec-len(frac))
	tooLarge := fmt.Errorf("amount %q: too large", s)
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, tooLarge
		}
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	var f int64
	if frac != "" {
		// At most 3 digits: cannot fail.
		f, _ = strconv.ParseInt(frac, 10, 64)
	}
	scale := pow10[dec]
	if w > (math.MaxInt64-f)/scale {
		return 0, tooLarge
	}
	minor := w*scale + f
	if minor == 0 {
		return 0, fmt.Errorf("amount %q: must be positive", s)
	}
	return minor, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FormatAmount shows an amount of minor units in major units with the
// currency's number of decimals: 1250 usd is "12.50", 500 jpy "500",
// 1500 kwd "1.500", -1250 usd "-12.50". No thousands separators, so what it
// prints ParseAmount reads back.
func FormatAmount(minor int64, currency string) string {
	sign := ""
	// Through uint64 so that math.MinInt64 has an absolute value.
	abs := uint64(minor)
	if minor < 0 {
		sign, abs = "-", -abs
	}
	dec := Decimals(currency)
	if dec == 0 {
		return sign + strconv.FormatUint(abs, 10)
	}
	scale := uint64(pow10[dec])
	return fmt.Sprintf("%s%d.%0*d", sign, abs/scale, dec, abs%scale)
}

// inMajorUnits restates a refusal over an amount in the invoice's major
// units, as the operator typed it: the API speaks minor units. The figure
// left is the invoice's as read just before the request. Other errors are
// returned as they are.
func inMajorUnits(err error, inv invoice, minor int64) error {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	cur := inv.Currency
	switch apiErr.Code {
	case "overpayment":
		unpaid := max(inv.Amount-inv.CreditedAmount-inv.PaidAmount, 0)
		return &APIError{Status: apiErr.Status, Code: apiErr.Code, Message: fmt.Sprintf(
			"payment of %s exceeds what is unpaid on invoice %s (%s)", money(minor, cur), inv.ID, money(unpaid, cur))}
	case "credit_note_exceeds_balance":
		due := max(inv.Balance, 0)
		msg := fmt.Sprintf("credit note of %s exceeds what is still due on invoice %s (%s)", money(minor, cur), inv.ID, money(due, cur))
		if due == 0 && inv.State == "written_off" {
			msg += ": its write-off covers the rest; reopen it first"
		}
		return &APIError{Status: apiErr.Status, Code: apiErr.Code, Message: msg}
	}
	return err
}
