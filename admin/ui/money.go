package ui

import (
	"strings"

	"github.com/payrecon/reconciler/admin/cli"
	"github.com/payrecon/reconciler/reconcile"
)

// symbols are the currency signs people read without a second look. A
// currency without one here is shown with its code after the amount.
var symbols = map[string]string{
	"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩", "ils": "₪", "ngn": "₦",
	"php": "₱", "thb": "฿", "vnd": "₫", "uah": "₴", "try": "₺", "cny": "CN¥", "cad": "CA$", "aud": "A$",
	"nzd": "NZ$", "hkd": "HK$", "mxn": "MX$", "brl": "R$", "twd": "NT$", "sgd": "S$",
}

// money shows an amount of minor units in major units, grouped by
// thousands, with the currency's sign: 123456 usd is "$1,234.56", -500 eur
// "-€5.00", 1500 kwd "1.500 KWD". The payment form takes the same digits
// without the separators and the sign.
func money(a reconcile.Amount, currency string) string {
	plain := cli.FormatAmount(int64(a), currency)
	sign := ""
	if strings.HasPrefix(plain, "-") {
		sign, plain = "-", plain[1:]
	}
	whole, frac, hasFrac := strings.Cut(plain, ".")
	grouped := group(whole)
	if hasFrac {
		grouped += "." + frac
	}
	if sym, ok := symbols[strings.ToLower(currency)]; ok {
		return sign + sym + grouped
	}
	return sign + grouped + " " + strings.ToUpper(currency)
}

// group puts a comma between each three digits from the right.
func group(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

func moneyOrDash(a *reconcile.Amount, currency string) string {
	if a == nil {
		return "—"
	}
	return money(*a, currency)
}
