package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const (
	// compareWindow is what a full comparison covers: Stripe's PaymentIntents
	// created in the last 30 days, and the ledger's Stripe payments recorded
	// in them.
	compareWindow = 30 * 24 * time.Hour
	// compareMargin is how far before its cursor an incremental comparison
	// starts listing, as the pull does: created has second resolution, and
	// an object may show in a listing a little after the time it bears.
	compareMargin = 5 * time.Minute
	// compareBatch is how many PaymentIntents are compared at a time: one
	// read of the ledger's payments for all of them, one transaction writing
	// what they showed. Memory holds one batch, whatever the window holds.
	compareBatch = 500
	// maxLookups caps the ledger payments a comparison asks Stripe for one
	// by one (those its listing did not show): each is a request, and a
	// wrong key or account would otherwise ask for every payment.
	maxLookups = 2000
)

// CompareStep is what the comparison of the ledger with Stripe found and
// did.
type CompareStep struct {
	// Skipped says why the comparison did not run (no Stripe key).
	Skipped string `json:"skipped,omitempty"`
	// Scope is "window" (the last 30 days: a full run, or no complete
	// comparison yet) or "since_cursor" (PaymentIntents created since the
	// last complete comparison's newest, less a margin).
	Scope string     `json:"scope"`
	Since *time.Time `json:"since"`
	// Listed counts the PaymentIntents Stripe listed; Compared those
	// compared with the ledger (succeeded ones, and any the ledger has),
	// looked-up ones included.
	Listed   int `json:"listed"`
	Compared int `json:"compared"`
	// LookedUp counts the ledger's Stripe payments of the window Stripe's
	// listing did not show, asked for one by one; Unchecked those left
	// past maxLookups (a later run checks them).
	LookedUp  int `json:"looked_up"`
	Unchecked int `json:"unchecked,omitempty"`
	// Pulled counts the succeeded PaymentIntents naming one of our invoices
	// that the ledger lacked, stored as pulled events; Enqueued those of
	// them queued for the worker (the relay queues the rest).
	Pulled   int `json:"pulled"`
	Enqueued int `json:"enqueued"`
	// Found counts the differences found; Opened those that opened a
	// discrepancy (the others were open already, or Acknowledged: resolved
	// by an operator with the same figures); Closed the open discrepancies
	// of what this comparison covered that it no longer found.
	Found        int `json:"found"`
	Opened       int `json:"opened"`
	Acknowledged int `json:"acknowledged,omitempty"`
	Closed       int `json:"closed"`
	// Cursor is the newest PaymentIntent time complete comparisons have
	// listed, after this one.
	Cursor  *time.Time `json:"cursor,omitempty"`
	Seconds float64    `json:"seconds"`
	Error   string     `json:"error,omitempty"`
}

// MarshalJSON shows a skipped comparison as only its reason.
func (c CompareStep) MarshalJSON() ([]byte, error) {
	if c.Skipped != "" {
		return json.Marshal(struct {
			Skipped string `json:"skipped"`
		}{c.Skipped})
	}
	type plain CompareStep // without this method
	return json.Marshal(plain(c))
}

// compareStep compares Stripe's PaymentIntents of the window with the
// ledger's Stripe payments, batch by batch: a succeeded PaymentIntent
// naming one of our invoices that the ledger lacks is pulled as an event,
// every other difference is a discrepancy. The ledger's payments of the
// window the listing did not show are then looked up one by one; those
// Stripe does not know are missing in Stripe. Open discrepancies of the
// PaymentIntents compared that were not found again are closed.
func (r *Runner) compareStep(ctx context.Context, runID string, full bool, st *CompareStep) (err error) {
	if r.cfg.Provider == nil {
		st.Skipped = "no STRIPE_API_KEY"
		return nil
	}
	started := r.now()
	defer func() { st.Seconds = r.now().Sub(started).Seconds() }()
	if err := r.store.forgetComparisons(ctx, ""); err != nil {
		return err
	}
	// The seen set is scratch: dropped however the step ends.
	defer func() { err = errors.Join(err, r.store.forgetComparisons(context.WithoutCancel(ctx), runID)) }()

	cur, err := r.store.compareCursor(ctx)
	if err != nil {
		return err
	}
	since := r.now().Add(-compareWindow).Truncate(time.Second)
	st.Scope = "window"
	if !full && cur != nil && cur.Add(-compareMargin).After(since) {
		since, st.Scope = cur.Add(-compareMargin), "since_cursor"
	}
	since = since.UTC()
	st.Since = &since
	// The ledger's side of the window ends when the listing begins: a
	// payment recorded later may be of a PaymentIntent the listing began
	// too early to show.
	until, err := r.store.dbNow(ctx)
	if err != nil {
		return err
	}

	c := &comparer{r: r, runID: runID, st: st, batch: make([]ProviderPayment, 0, compareBatch)}
	var newest time.Time
	err = r.cfg.Provider.ListPayments(ctx, since, func(p ProviderPayment) error {
		st.Listed++
		if p.Created.After(newest) {
			newest = p.Created
		}
		c.batch = append(c.batch, p)
		if len(c.batch) == compareBatch {
			return c.flush(ctx, nil)
		}
		return nil
	})
	if err == nil {
		err = c.flush(ctx, nil)
	}
	if err != nil {
		err = fmt.Errorf("compare Stripe payments since %s: %w", since.Format(time.RFC3339), err)
	} else {
		// Only a complete listing tells what Stripe lacks.
		err = c.missingInStripe(ctx, since, until)
	}
	// What was compared is covered, even when the step stopped early.
	closed, closeErr := r.store.closeDiscrepancies(ctx, runID)
	st.Closed = closed
	if err != nil || closeErr != nil {
		return errors.Join(err, closeErr)
	}
	var seen *time.Time
	if !newest.IsZero() {
		seen = &newest
	}
	if st.Cursor, err = r.store.advanceCompareCursor(ctx, seen, st.Scope == "window"); err != nil {
		return err
	}
	if c.enqueueErr != nil {
		return fmt.Errorf("%d pulled events stored but not queued (the relay will queue them): %w",
			st.Pulled-st.Enqueued, c.enqueueErr)
	}
	return nil
}

// comparer compares one batch of Stripe's payments at a time.
type comparer struct {
	r          *Runner
	runID      string
	st         *CompareStep
	batch      []ProviderPayment
	enqueueErr error
}

// flush compares the batch with the ledger and records what it showed in
// one transaction: the PaymentIntents as compared, and the differences.
// extra are differences found otherwise (missing in Stripe), recorded with
// it.
func (c *comparer) flush(ctx context.Context, extra []difference) error {
	if len(c.batch) == 0 && len(extra) == 0 {
		return nil
	}
	refs := make([]string, 0, len(c.batch)+len(extra))
	seen := make(map[string]bool, len(c.batch))
	for _, p := range c.batch {
		if !seen[p.PaymentIntent] {
			seen[p.PaymentIntent] = true
			refs = append(refs, p.PaymentIntent)
		}
	}
	ledger, err := c.r.store.ledgerStripePayments(ctx, ledgerSelection{paymentIntents: refs})
	if err != nil {
		return err
	}
	byRef := make(map[string]ledgerPayment, len(ledger))
	for _, lp := range ledger {
		byRef[lp.PaymentIntent] = lp
	}
	diffs := extra
	var lacking []ProviderPayment
	for _, p := range c.batch {
		lp, known := byRef[p.PaymentIntent]
		switch {
		case known:
			c.st.Compared++
			diffs = append(diffs, compare(lp, p)...)
		case p.Status == "succeeded" && p.Amount > 0:
			c.st.Compared++
			lacking = append(lacking, p)
		}
		// A PaymentIntent that holds no money and that the ledger lacks
		// agrees with it.
	}
	more, err := c.lacking(ctx, lacking)
	if err != nil {
		return err
	}
	diffs = append(diffs, more...)
	for _, d := range extra {
		refs = append(refs, d.ref)
	}
	rec, err := c.r.store.recordComparison(ctx, c.runID, refs, diffs)
	if err != nil {
		return err
	}
	c.st.Found += len(diffs)
	c.st.Opened += rec.opened
	c.st.Acknowledged += rec.acknowledged
	c.batch = c.batch[:0]
	return nil
}

// lacking judges the succeeded PaymentIntents the ledger has no payment of.
// One naming a live invoice of its currency is pulled: stored as the event
// Stripe would have sent, and queued for the worker, once however many runs
// see it. The others are differences.
func (c *comparer) lacking(ctx context.Context, ps []ProviderPayment) ([]difference, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	invoices, err := c.r.store.invoicesNamed(ctx, ps)
	if err != nil {
		return nil, err
	}
	var diffs []difference
	var pull []InboxEvent
	pulled := map[string]pulledEvent{} // by PaymentIntent
	for _, p := range ps {
		inv, ok := invoices.of(p)
		switch {
		case !ok:
			diffs = append(diffs, missingInLedger(p))
		case inv.currency != p.Currency:
			diffs = append(diffs, difference{kind: CurrencyMismatch, ref: p.PaymentIntent, invoiceID: inv.id,
				currency: p.Currency, stripe: amountPtr(p.Amount),
				detail: fmt.Sprintf("Stripe took this payment in %s for invoice %s, which is in %s; the ledger has not recorded it",
					upper(p.Currency), inv.id, upper(inv.currency))})
		default:
			e, err := c.r.cfg.Provider.SucceededEvent(p)
			if err != nil {
				return nil, err
			}
			pull = append(pull, InboxEvent{ID: e.ID, Type: e.Type, Created: e.Created, Payload: e.Raw, Source: SourcePull})
			pulled[p.PaymentIntent] = pulledEvent{id: e.ID, invoiceID: inv.id}
		}
	}
	if len(pull) == 0 {
		return diffs, nil
	}
	isNew, err := c.r.store.StoreEvents(ctx, pull)
	if err != nil {
		return nil, err
	}
	var queue, stored []string
	for i, e := range pull {
		if isNew[i] {
			queue = append(queue, e.ID)
		} else {
			stored = append(stored, e.ID)
		}
	}
	c.st.Pulled += len(queue)
	if len(queue) > 0 {
		// A stored event is safe: if Redis is down, the relay queues it.
		if err := c.r.relay.EnqueueEvents(ctx, queue); err != nil {
			c.enqueueErr = err
		} else {
			c.st.Enqueued += len(queue)
		}
	}
	// Pulled by an earlier run and still not in the ledger: waiting for the
	// worker (received), or stopped where a person must look.
	states, err := c.r.store.eventStates(ctx, stored)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		pe, ok := pulled[p.PaymentIntent]
		if !ok {
			continue
		}
		s, ok := states[pe.id]
		if !ok {
			continue
		}
		switch s.status {
		case EventUnmatched, EventNeedsReview, EventFailed:
			d := missingInLedger(p)
			d.invoiceID = pe.invoiceID
			d.detail = fmt.Sprintf("Stripe took this payment for invoice %s; it was pulled as event %s, which is %s: %s",
				pe.invoiceID, pe.id, s.status, s.reason)
			diffs = append(diffs, d)
		}
		// received: the worker has yet to apply it; processed: it has, since
		// the ledger was read; ignored: an operator decided.
	}
	return diffs, nil
}

// pulledEvent is the event pulled for a PaymentIntent the ledger lacks,
// and the invoice it names.
type pulledEvent struct{ id, invoiceID string }

// missingInStripe walks the ledger's Stripe payments recorded in the window
// that no listing of this comparison showed, a batch at a time, and asks
// Stripe for each: one Stripe still has (created before the window) is
// compared as if listed; one it does not know is missing in Stripe.
func (c *comparer) missingInStripe(ctx context.Context, since, until time.Time) error {
	after := walkKey{at: since}
	for {
		page, err := c.r.store.ledgerStripePayments(ctx, ledgerSelection{
			notSeenBy: c.runID, since: since, until: until, after: after, limit: compareBatch})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		var missing []difference
		for _, lp := range page {
			if c.st.LookedUp >= maxLookups {
				c.st.Unchecked++
				continue
			}
			c.st.LookedUp++
			p, found, err := c.r.cfg.Provider.GetPayment(ctx, lp.PaymentIntent)
			if err != nil {
				return err
			}
			if found {
				c.batch = append(c.batch, p)
				continue
			}
			missing = append(missing, difference{kind: MissingInStripe, ref: lp.PaymentIntent, invoiceID: lp.InvoiceID,
				currency: lp.Currency, ledger: amountPtr(lp.Amount),
				detail: fmt.Sprintf("the ledger recorded payment %s on invoice %s; Stripe has no PaymentIntent %s",
					lp.PaymentID, lp.InvoiceID, lp.PaymentIntent)})
		}
		if err := c.flush(ctx, missing); err != nil {
			return err
		}
		last := page[len(page)-1]
		after = walkKey{at: last.CreatedAt, id: last.PaymentID}
		if len(page) < compareBatch {
			return nil
		}
	}
}
