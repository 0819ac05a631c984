package stripefake

import (
	"bytes"
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PaymentIntent is a PaymentIntent to serve. Zero fields take the defaults
// their comments give; everything else is Stripe's example object.
type PaymentIntent struct {
	ID     string // required
	Amount int64
	// AmountReceived defaults to Amount when Status is "succeeded".
	AmountReceived int64
	Currency       string // default "usd"
	Status         string // default "succeeded"
	Created        time.Time
	Metadata       map[string]string
	// Invoice is the Stripe invoice (in_...) the PaymentIntent pays, shown
	// as API 2023-10-16 shows it; when empty the field is left out, as
	// since 2025-03-31.
	Invoice  string
	Livemode bool
	// Charge is the latest charge; nil leaves latest_charge null.
	Charge *Charge
}

// Charge is a PaymentIntent's latest charge. Its amount, currency, status
// and metadata follow its PaymentIntent's.
type Charge struct {
	ID string // default "ch_" and the PaymentIntent's id after "pi_"
	// AmountRefunded defaults to the refunds that are pending, succeeded or
	// require action.
	AmountRefunded int64
	// Refunds are the charge's refunds in list order (newest first); an
	// expanded refunds list shows the first 10, as Stripe's does.
	Refunds []Refund
	// Disputed is also true when a dispute the fake holds names the charge.
	Disputed bool
}

// Refund is one refund of a charge.
type Refund struct {
	ID      string // default "re_", the charge's id after "ch_", "_" and its index
	Amount  int64
	Status  string    // default "succeeded"
	Created time.Time // default: the PaymentIntent's
}

// paymentIntentRec is a PaymentIntent as the fake keeps it: small, so a
// benchmark can hold 100,000, and never changed once stored, so a page
// being rendered never sees a half-made change.
type paymentIntentRec struct {
	id, currency, status, invoice string
	amount, received, created     int64
	livemode                      bool
	metadata                      []metadataPair
	charge                        *chargeRec
}

func (r *paymentIntentRec) key() (int64, string) { return r.created, r.id }

type chargeRec struct {
	id             string
	amountRefunded int64
	disputed       bool
	refunds        []refundRec
}

type refundRec struct {
	id, status      string
	amount, created int64
}

type metadataPair struct{ key, value string }

func metadataPairs(md map[string]string) []metadataPair {
	var out []metadataPair
	for _, k := range slices.Sorted(maps.Keys(md)) {
		out = append(out, metadataPair{k, md[k]})
	}
	return out
}

// idSuffix is an id without its type prefix: "abc" for "pi_abc".
func idSuffix(id string) string {
	if _, rest, ok := strings.Cut(id, "_"); ok {
		return rest
	}
	return id
}

// AddPaymentIntent adds payment intents, each replacing any with its id.
func (f *Fake) AddPaymentIntent(pis ...PaymentIntent) {
	f.tb.Helper()
	recs := make([]*paymentIntentRec, 0, len(pis))
	for _, pi := range pis {
		if pi.ID == "" || pi.Amount < 0 || pi.AmountReceived < 0 {
			f.tb.Fatalf("stripefake: payment intent %+v needs an id and amounts of at least 0", pi)
		}
		r := &paymentIntentRec{id: pi.ID, currency: cmp.Or(pi.Currency, "usd"), status: cmp.Or(pi.Status, "succeeded"),
			invoice: pi.Invoice, amount: pi.Amount, received: pi.AmountReceived, created: createdOrNow(pi.Created),
			livemode: pi.Livemode, metadata: metadataPairs(pi.Metadata)}
		if r.received == 0 && r.status == "succeeded" {
			r.received = r.amount
		}
		if c := pi.Charge; c != nil {
			cr := &chargeRec{id: cmp.Or(c.ID, "ch_"+idSuffix(pi.ID)), amountRefunded: c.AmountRefunded, disputed: c.Disputed}
			refunded := int64(0)
			for i, re := range c.Refunds {
				rr := refundRec{id: re.ID, status: cmp.Or(re.Status, "succeeded"), amount: re.Amount, created: r.created}
				if rr.id == "" {
					rr.id = "re_" + idSuffix(cr.id) + "_" + strconv.Itoa(i)
				}
				if !re.Created.IsZero() {
					rr.created = re.Created.Unix()
				}
				switch rr.status {
				case "pending", "succeeded", "requires_action":
					refunded += rr.amount
				}
				cr.refunds = append(cr.refunds, rr)
			}
			if cr.amountRefunded == 0 {
				cr.amountRefunded = refunded
			}
			r.charge = cr
		}
		recs = append(recs, r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		f.payments.put(r)
	}
}

var paymentIntentExpansions = []string{"data.latest_charge", "data.latest_charge.refunds"}

func (f *Fake) listPaymentIntents(q listQuery) ([]byte, *apiError) {
	if err := checkExpansions(q.expand, paymentIntentExpansions); err != nil {
		return nil, err
	}
	// Expanding a charge's refunds expands the charge on the way.
	expandRefunds := slices.Contains(q.expand, "data.latest_charge.refunds")
	expandCharge := expandRefunds || slices.Contains(q.expand, "data.latest_charge")
	recs, hasMore, err := page(&f.payments, q, "payment_intent", func(*paymentIntentRec) bool { return true })
	if err != nil {
		return nil, err
	}
	r := &paymentRenderer{t: templates(), disputed: f.disputedCharges, expandCharge: expandCharge, expandRefunds: expandRefunds}
	b := pageBuffer(len(recs), 8<<10)
	renderList(b, "/v1/payment_intents", hasMore, len(recs), func(i int) { r.paymentIntent(b, recs[i]) })
	return b.Bytes(), nil
}

// paymentRenderer renders payment intents, reusing its buffers from one
// to the next.
type paymentRenderer struct {
	t                           *templateSet
	disputed                    map[string]bool // charges a dispute names
	expandCharge, expandRefunds bool

	v       values
	charge  bytes.Buffer
	refunds bytes.Buffer
}

func (pr *paymentRenderer) paymentIntent(b *bytes.Buffer, r *paymentIntentRec) {
	v := &pr.v
	v.reset()
	latest := jsonNull
	if r.charge != nil {
		if pr.expandCharge {
			pr.charge.Reset()
			pr.renderCharge(&pr.charge, r)
			latest = pr.charge.Bytes()
		} else {
			latest = v.str(r.charge.id)
		}
	}
	capturable := int64(0)
	if r.status == "requires_capture" {
		capturable = r.amount
	}
	canceledAt := jsonNull
	if r.status == "canceled" {
		canceledAt = v.int(r.created)
	}
	fields := []field{
		{"id", v.str(r.id)},
		{"amount", v.int(r.amount)},
		{"amount_capturable", v.int(capturable)},
		{"amount_received", v.int(r.received)},
		{"canceled_at", canceledAt},
		{"client_secret", v.str(r.id + "_secret_stripefake")},
		{"created", v.int(r.created)},
		{"currency", v.str(r.currency)},
		{"last_payment_error", jsonNull},
		{"latest_charge", latest},
		{"livemode", v.bool(r.livemode)},
		{"metadata", v.metadata(r.metadata)},
		{"status", v.str(r.status)},
	}
	if r.status != "requires_action" {
		fields = append(fields, field{"next_action", jsonNull})
	}
	if r.status != "processing" {
		fields = append(fields, field{"processing", jsonNull})
	}
	if r.invoice != "" {
		fields = append(fields, field{"invoice", v.str(r.invoice)})
	}
	pr.t.paymentIntent.render(b, fields...)
}

// chargeStatus is the status of a PaymentIntent's latest charge.
func chargeStatus(piStatus string) string {
	switch piStatus {
	case "succeeded", "requires_capture":
		return "succeeded"
	case "processing":
		return "pending"
	}
	return "failed"
}

// refundsShown is how many refunds an expanded refunds list holds.
const refundsShown = 10

func (pr *paymentRenderer) renderCharge(b *bytes.Buffer, pi *paymentIntentRec) {
	v, c := &pr.v, pi.charge
	status := chargeStatus(pi.status)
	// Since API 2022-11-15 a charge's refunds are left out unless expanded.
	var refunds []byte
	if pr.expandRefunds {
		shown := c.refunds[:min(len(c.refunds), refundsShown)]
		pr.refunds.Reset()
		renderList(&pr.refunds, "/v1/charges/"+c.id+"/refunds", len(c.refunds) > len(shown), len(shown),
			func(i int) { pr.renderRefund(&pr.refunds, pi, shown[i]) })
		refunds = pr.refunds.Bytes()
	}
	pr.t.charge.render(b,
		field{"id", v.str(c.id)},
		field{"amount", v.int(pi.amount)},
		field{"amount_captured", v.int(pi.received)},
		field{"amount_refunded", v.int(c.amountRefunded)},
		field{"balance_transaction", v.str("txn_" + idSuffix(c.id))},
		field{"captured", v.bool(pi.received > 0)},
		field{"created", v.int(pi.created)},
		field{"currency", v.str(pi.currency)},
		field{"disputed", v.bool(c.disputed || pr.disputed[c.id])},
		field{"livemode", v.bool(pi.livemode)},
		field{"metadata", v.metadata(pi.metadata)},
		field{"paid", v.bool(status == "succeeded")},
		field{"payment_intent", v.str(pi.id)},
		field{"refunded", v.bool(pi.amount > 0 && c.amountRefunded >= pi.amount)},
		field{"refunds", refunds},
		field{"status", v.str(status)},
	)
}

func (pr *paymentRenderer) renderRefund(b *bytes.Buffer, pi *paymentIntentRec, r refundRec) {
	v := &pr.v
	failure := []byte(nil)
	if r.status == "failed" {
		failure = v.str("unknown")
	}
	pr.t.refund.render(b,
		field{"id", v.str(r.id)},
		field{"amount", v.int(r.amount)},
		field{"balance_transaction", jsonNull},
		field{"charge", v.str(pi.charge.id)},
		field{"created", v.int(r.created)},
		field{"currency", v.str(pi.currency)},
		field{"failure_reason", failure},
		field{"payment_intent", v.str(pi.id)},
		field{"status", v.str(r.status)},
	)
}

// checkExpansions refuses what the fake does not model, so a test learns
// its client asked for something the fake would silently not expand.
func checkExpansions(expand, allowed []string) *apiError {
	for _, e := range expand {
		if !slices.Contains(allowed, e) {
			return invalidRequest(http.StatusBadRequest, "", "expand", "This property cannot be expanded (%s).", e)
		}
	}
	return nil
}

func createdOrNow(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().Unix()
	}
	return t.Unix()
}
