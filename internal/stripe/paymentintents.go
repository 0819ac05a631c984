package stripe

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// PaymentRecord is a PaymentIntent as Stripe holds it now, with its latest
// charge, that charge's refunds and the disputes against it. Amounts are in
// minor units. The worker hands it to the ledger as a
// reconcile.ProviderPayment, whose fields say what each one means.
type PaymentRecord struct {
	PaymentIntent, ChargeID, InvoiceID, StripeInvoiceID, Currency, Status string
	Amount, Refunded, Disputed                                            int64
	Created                                                               time.Time
	Livemode                                                              bool
}

// DisputeRecord is a dispute as Stripe holds it now (see
// reconcile.ProviderDispute).
type DisputeRecord struct {
	ID, PaymentIntent, ChargeID, Currency, Status string
	Amount, Withdrawn                             int64
	Created                                       time.Time
}

// PaymentLister lists Stripe's PaymentIntents and disputes as the ledger's
// ProviderPayment and ProviderDispute, for the run's comparison with Stripe.
// Like the event pull, it calls through stripe-go's backend (authentication,
// Stripe-Version, retries, the API base) and its list iterator, but decodes
// only the fields it needs itself: stripe-go's typed objects fail on shapes
// of other API versions, where an expandable field may be an id or an
// object and fields come and go.
type PaymentLister struct {
	backend stripego.Backend
	key     string
}

// NewPaymentLister lists with the key apiKey, at apiBase when it is set
// (stripe-mock, a test server) or at Stripe's own. It uses a client of its
// own, never stripe-go's global key or backend.
func NewPaymentLister(apiKey, apiBase string) *PaymentLister {
	return &PaymentLister{backend: newBackend(apiBase), key: apiKey}
}

// ListPayments calls each for every PaymentIntent created at or after since,
// newest first, with its latest charge and that charge's refunds (expanded,
// as they are not sent otherwise since API 2022-11-15). Disputed comes from
// the disputes created since the same time, listed first: a dispute is
// never older than its payment. Memory holds one page and the disputes that
// hold money.
func (l *PaymentLister) ListPayments(ctx context.Context, since time.Time, each func(PaymentRecord) error) error {
	// Keyed by PaymentIntent, or by charge for a dispute of a charge made
	// without one.
	withdrawn := map[string]int64{}
	err := l.ListDisputes(ctx, since, func(d DisputeRecord) error {
		if d.Withdrawn != 0 {
			withdrawn[disputeKey(d.PaymentIntent, d.ChargeID)] += d.Withdrawn
		}
		return nil
	})
	if err != nil {
		return err
	}

	params := &stripego.PaymentIntentListParams{
		ListParams:   stripego.ListParams{Context: ctx, Limit: stripego.Int64(listPageSize)},
		CreatedRange: createdSince(since),
	}
	params.AddExpand("data.latest_charge")
	params.AddExpand("data.latest_charge.refunds")
	return listObjects(l, "/v1/payment_intents", "payment intents", params, func(pi *listedPaymentIntent) error {
		p := pi.payment()
		p.Disputed = withdrawn[disputeKey(p.PaymentIntent, "")]
		if p.ChargeID != "" {
			p.Disputed += withdrawn[disputeKey("", p.ChargeID)]
		}
		return each(p)
	})
}

// ListDisputes calls each for every dispute created at or after since,
// newest first.
func (l *PaymentLister) ListDisputes(ctx context.Context, since time.Time, each func(DisputeRecord) error) error {
	params := &stripego.DisputeListParams{
		ListParams:   stripego.ListParams{Context: ctx, Limit: stripego.Int64(listPageSize)},
		CreatedRange: createdSince(since),
	}
	return listObjects(l, "/v1/disputes", "disputes", params, func(d *listedDispute) error {
		return each(d.dispute())
	})
}

func disputeKey(paymentIntent, charge string) string {
	if paymentIntent != "" {
		return paymentIntent
	}
	return "charge " + charge
}

// createdSince is the created filter of a listing from since; none for the
// zero time, which Stripe's filter would refuse as negative.
func createdSince(since time.Time) *stripego.RangeQueryParams {
	if since.IsZero() {
		return nil
	}
	return &stripego.RangeQueryParams{GreaterThanOrEqual: since.Unix()}
}

// listedPage is one page of a Stripe list, holding only the decoded fields.
type listedPage[P any] struct {
	stripego.APIResource
	stripego.ListMeta
	Data []P `json:"data"`
}

// listedObject is an object a listing decodes: a pointer to a struct with a
// string field ID, since stripe-go's iterator pages with starting_after =
// the last item's ID, found by reflection.
type listedObject[T any] interface {
	*T
	objectID() string
}

func (pi *listedPaymentIntent) objectID() string { return pi.ID }
func (d *listedDispute) objectID() string        { return d.ID }

// listObjects lists path page by page with stripe-go's iterator and calls
// each for every item, returning each's error as it is; what names the
// objects in an error of the listing itself.
func listObjects[T any, P listedObject[T]](l *PaymentLister, path, what string, params stripego.ListParamsContainer,
	each func(P) error) error {
	var prevFirst string
	it := stripego.GetIter(params, func(p *stripego.Params, b *form.Values) ([]any, stripego.ListContainer, error) {
		page := &listedPage[P]{}
		err := l.backend.CallRaw(http.MethodGet, path, l.key, b, p, page)
		if err == nil && len(page.Data) == 0 && page.HasMore {
			// The iterator would ask for the page after no item.
			page.HasMore = false
			return nil, page, fmt.Errorf("%s answered an empty page that has more", path)
		}
		if err == nil && len(page.Data) > 0 {
			// A server that ignores starting_after would send the same
			// page for ever.
			first := page.Data[0].objectID()
			if first == prevFirst {
				page.HasMore = false
				return nil, page, fmt.Errorf("the page after %s repeats the previous page", prevFirst)
			}
			prevFirst = first
		}
		items := make([]any, len(page.Data))
		for i, x := range page.Data {
			if x == nil {
				page.HasMore = false
				return nil, page, fmt.Errorf("%s answered a null item", path)
			}
			items[i] = x
		}
		return items, page, err
	})
	for it.Next() {
		if err := each(it.Current().(P)); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("list Stripe %s: %w", what, err)
	}
	return nil
}

// listedPaymentIntent is the part of a PaymentIntent the comparison reads.
type listedPaymentIntent struct {
	ID             string           `json:"id"`
	AmountReceived int64            `json:"amount_received"`
	Currency       string           `json:"currency"`
	Status         string           `json:"status"`
	Created        int64            `json:"created"`
	Livemode       bool             `json:"livemode"`
	Metadata       listedMetadata   `json:"metadata"`
	Invoice        expandable       `json:"invoice"` // gone since API 2025-03-31
	LatestCharge   expandableCharge `json:"latest_charge"`
}

// listedCharge is the part of a charge the comparison reads.
type listedCharge struct {
	ID             string `json:"id"`
	AmountRefunded int64  `json:"amount_refunded"`
	// Refunds is nil unless expanded (since API 2022-11-15). It may show
	// only the first refunds (has_more): amount_refunded covers the rest.
	Refunds *struct {
		Data []listedRefund `json:"data"`
	} `json:"refunds"`
}

type listedRefund struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Status string `json:"status"`
}

func (pi *listedPaymentIntent) payment() PaymentRecord {
	p := PaymentRecord{
		PaymentIntent:   pi.ID,
		InvoiceID:       pi.Metadata.invoiceID,
		StripeInvoiceID: pi.Invoice.ID,
		Currency:        strings.ToLower(pi.Currency),
		Amount:          int64(pi.AmountReceived),
		Status:          pi.Status,
		Created:         time.Unix(pi.Created, 0).UTC(),
		Livemode:        pi.Livemode,
	}
	p.ChargeID = pi.LatestCharge.ID
	if c := pi.LatestCharge.Charge; c != nil {
		p.Refunded = refunded(c)
	}
	return p
}

// refunded is API.md's refund rule over one listing: the refunds known by
// id that are pending or succeeded, plus the part of amount_refunded the
// known refunds do not explain; with no refunds itemised it is
// amount_refunded. The ledger's rule reads the highest amount_refunded its
// events ever showed, which may still hold a refund that failed since, so
// there every known refund explains a part. A listing shows the charge as
// it is now: its amount_refunded no longer holds a failed or canceled
// refund, so only the others explain a part of it. Otherwise a charge whose
// list shows a failed refund but not all of the others (more than a page
// of them) would count too little.
func refunded(c *listedCharge) int64 {
	var counted, explained int64
	if c.Refunds != nil {
		for _, r := range c.Refunds.Data {
			switch r.Status {
			case "pending", "succeeded":
				counted += r.Amount
				explained += r.Amount
			case "failed", "canceled":
			default: // requires_action: held, not yet counted
				explained += r.Amount
			}
		}
	}
	return int64(counted + max(0, c.AmountRefunded-explained))
}

// listedDispute is the part of a dispute the comparison reads.
type listedDispute struct {
	ID            string     `json:"id"`
	Amount        int64      `json:"amount"`
	Currency      string     `json:"currency"`
	Status        string     `json:"status"`
	Created       int64      `json:"created"`
	Charge        expandable `json:"charge"`
	PaymentIntent expandable `json:"payment_intent"`
	// BalanceTransactions is read only for a status this code does not
	// know.
	BalanceTransactions json.RawMessage `json:"balance_transactions"`
}

func (d *listedDispute) dispute() DisputeRecord {
	return DisputeRecord{
		ID:            d.ID,
		PaymentIntent: d.PaymentIntent.ID,
		ChargeID:      d.Charge.ID,
		Currency:      strings.ToLower(d.Currency),
		Amount:        int64(d.Amount),
		Status:        d.Status,
		Withdrawn:     d.withdrawn(),
		Created:       time.Unix(d.Created, 0).UTC(),
	}
}

// withdrawn is the money the dispute holds withdrawn now. Stripe withdraws
// the amount when a chargeback opens (needs_response), keeps it while under
// review and once lost, and reinstates it when won; an inquiry (warning_*)
// and a prevented dispute withdraw nothing. For a status newer than this
// code, the balance transactions tell: a withdrawal not reinstated holds the
// amount. Their own amounts are in the balance's currency, so only their
// signs are read.
func (d *listedDispute) withdrawn() int64 {
	switch d.Status {
	case "needs_response", "under_review", "lost":
		return int64(d.Amount)
	case "won", "warning_needs_response", "warning_under_review", "warning_closed", "prevented",
		"charge_refunded": // before API 2019-09-09, an inquiry settled by a refund
		return 0
	}
	var txns []struct {
		Amount int64 `json:"amount"`
	}
	if json.Unmarshal(d.BalanceTransactions, &txns) != nil {
		return 0
	}
	var withdrawals, reinstatements int
	for _, t := range txns {
		switch {
		case t.Amount < 0:
			withdrawals++
		case t.Amount > 0:
			reinstatements++
		}
	}
	if withdrawals > reinstatements {
		return int64(d.Amount)
	}
	return 0
}

// expandable is a field Stripe sends as null, an id, or the expanded
// object; only the id is read.
type expandable struct{ ID string }

func (e *expandable) UnmarshalJSON(b []byte) error {
	var obj struct {
		ID string `json:"id"`
	}
	id, err := expandableField(b, &obj)
	if err == nil {
		e.ID = cmp.Or(id, obj.ID)
	}
	return err
}

// expandableCharge is latest_charge: null, the charge's id, or, expanded,
// the charge.
type expandableCharge struct {
	ID     string
	Charge *listedCharge
}

func (e *expandableCharge) UnmarshalJSON(b []byte) error {
	var c listedCharge
	id, err := expandableField(b, &c)
	switch {
	case err != nil:
		return err
	case id != "":
		e.ID = id
	case c.ID != "":
		e.ID, e.Charge = c.ID, &c
	}
	return nil
}

// expandableField reads an expandable field's JSON: an id string is
// returned, an object is decoded into obj, null leaves both empty.
func expandableField(b []byte, obj any) (string, error) {
	switch {
	case len(b) == 0 || string(b) == "null":
		return "", nil
	case b[0] == '"':
		return stringValue(b)
	case b[0] == '{':
		return "", json.Unmarshal(b, obj)
	}
	return "", fmt.Errorf("an expandable field is neither an id, an object nor null: %.40s", b)
}

// listedMetadata reads metadata.invoice_id when it is a string. Metadata is
// free-form: another value is no reason to fail a listing. A map keeps the
// key match exact (struct tags match case-insensitively).
type listedMetadata struct{ invoiceID string }

func (m *listedMetadata) UnmarshalJSON(b []byte) error {
	m.invoiceID = metadataString(b, metaInvoiceID)
	return nil
}
