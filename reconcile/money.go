package reconcile

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Amount is money in the currency's minor unit (cents for USD, yen for JPY).
// It is never a float.
type Amount int64

var currencyPattern = regexp.MustCompile(`^[a-z]{3}$`)

// ValidCurrency reports whether c is a lower-case ISO 4217 code shape.
func ValidCurrency(c string) bool { return currencyPattern.MatchString(c) }

// Date is a calendar day without a time zone, shown as YYYY-MM-DD.
type Date struct{ time.Time }

const dateLayout = "2006-01-02"

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return Date{t}, nil
}

// DateOf is the UTC calendar day of t.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (d Date) String() string { return d.Format(dateLayout) }

// MarshalJSON writes "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads "YYYY-MM-DD".
func (d *Date) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// datePtr turns a nullable database date into a *Date.
func datePtr(t *time.Time) *Date {
	if t == nil {
		return nil
	}
	d := DateOf(*t)
	return &d
}

// timeOrNil is the nullable database form of a *Date.
func (d *Date) timeOrNil() *time.Time {
	if d == nil {
		return nil
	}
	return &d.Time
}
