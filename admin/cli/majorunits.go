package cli

import (
	"errors"
	"regexp"
	"strconv"
)

// The ledger states the amounts of its refusals in minor units, as the
// API speaks; an operator typed major units (--amount 1000 for 1000.00
// usd). amountsInRefusal finds the figures of those refusals, so that the
// CLI repeats them in the operator's units.
var amountsInRefusal = []*regexp.Regexp{
	// "payment of 100000 exceeds what is unpaid on invoice inv_1 (14901)"
	regexp.MustCompile(`(payment of )(\d+)( exceeds what is unpaid)`),
	regexp.MustCompile(`(exceeds what is unpaid on invoice \S+ \()(\d+)(\))`),
	// "credit note of 100000 exceeds what is still due on invoice inv_1 (14901)"
	regexp.MustCompile(`(credit note of )(\d+)( exceeds what is still due)`),
	regexp.MustCompile(`(exceeds what is still due on invoice \S+ \()(\d+)(\))`),
}

// majorUnits rewrites the minor-unit figures of a ledger refusal in
// currency's major units, with the currency: "payment of 100000 exceeds
// what is unpaid on invoice inv_1 (14901)" becomes "payment of 1000.00 usd
// exceeds what is unpaid on invoice inv_1 (149.01 usd)". Other messages
// are returned as they are.
func majorUnits(msg, currency string) string {
	for _, re := range amountsInRefusal {
		msg = re.ReplaceAllStringFunc(msg, func(m string) string {
			parts := re.FindStringSubmatch(m)
			n, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil {
				return m
			}
			return parts[1] + FormatAmount(n, currency) + " " + currency + parts[3]
		})
	}
	return msg
}

// inMajorUnits returns err with the figures of its refusal, an API error's
// or a failed job's, in currency's major units.
func inMajorUnits(err error, currency string) error {
	var apiErr *APIError
	var failed *jobFailedError
	switch {
	case errors.As(err, &apiErr):
		c := *apiErr
		c.Message = majorUnits(c.Message, currency)
		return &c
	case errors.As(err, &failed):
		c := *failed
		c.job.Error = majorUnits(c.job.Error, currency)
		return &c
	}
	return err
}
