package stripefake

import (
	"bytes"
	"cmp"
	"strconv"
	"strings"
	"time"
)

// Dispute is a dispute to serve. Zero fields take the defaults their
// comments give; everything else is Stripe's example object.
type Dispute struct {
	ID            string // required
	Amount        int64
	Currency      string // default "usd"
	Charge        string
	PaymentIntent string // empty: null, as for a charge made without one
	Status        string // default "needs_response"
	Created       time.Time
	Livemode      bool
	// BalanceTransactions are the dispute's withdrawal and reinstatement.
	// nil derives them from Status as Stripe makes them: a withdrawal of
	// Amount unless the status is warning_* or prevented, and its
	// reinstatement when won. A non-nil empty slice serves none.
	BalanceTransactions []BalanceTransaction
}

// BalanceTransaction is money a dispute moved: negative for a withdrawal,
// positive for a reinstatement.
type BalanceTransaction struct {
	ID     string // default "txn_", the dispute's id after "dp_", "_" and its index
	Amount int64
}

type disputeRec struct {
	id, currency, charge, paymentIntent, status string
	amount, created                             int64
	livemode                                    bool
	balance                                     []BalanceTransaction
}

func (r *disputeRec) key() (int64, string) { return r.created, r.id }

// defaultDisputeBalance is the money Stripe moves for a dispute in status.
func defaultDisputeBalance(status string, amount int64) []int64 {
	switch {
	case strings.HasPrefix(status, "warning_") || status == "prevented":
		return nil
	case status == "won":
		return []int64{-amount, amount}
	}
	return []int64{-amount}
}

// AddDispute adds disputes, each replacing any with its id. The charge a
// dispute names shows disputed: true from then on.
func (f *Fake) AddDispute(ds ...Dispute) {
	f.tb.Helper()
	recs := make([]*disputeRec, 0, len(ds))
	for _, d := range ds {
		if d.ID == "" || d.Amount < 0 {
			f.tb.Fatalf("stripefake: dispute %+v needs an id and an amount of at least 0", d)
		}
		r := &disputeRec{id: d.ID, currency: cmp.Or(d.Currency, "usd"), charge: d.Charge, paymentIntent: d.PaymentIntent,
			status: cmp.Or(d.Status, "needs_response"), amount: d.Amount, created: createdOrNow(d.Created),
			livemode: d.Livemode, balance: d.BalanceTransactions}
		if r.balance == nil {
			for _, amount := range defaultDisputeBalance(r.status, r.amount) {
				r.balance = append(r.balance, BalanceTransaction{Amount: amount})
			}
		}
		r.balance = append([]BalanceTransaction(nil), r.balance...)
		for i := range r.balance {
			if r.balance[i].ID == "" {
				r.balance[i].ID = "txn_" + idSuffix(r.id) + "_" + strconv.Itoa(i)
			}
		}
		recs = append(recs, r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range recs {
		f.disputes.put(r)
		if r.charge != "" {
			f.disputedCharges[r.charge] = true
		}
	}
}

func (f *Fake) listDisputes(q listQuery) ([]byte, *apiError) {
	if err := checkExpansions(q.expand, nil); err != nil {
		return nil, err
	}
	pi, charge := q.values.Get("payment_intent"), q.values.Get("charge")
	recs, hasMore, err := page(&f.disputes, q, "dispute", func(r *disputeRec) bool {
		return (pi == "" || r.paymentIntent == pi) && (charge == "" || r.charge == charge)
	})
	if err != nil {
		return nil, err
	}
	t, v := templates(), &values{}
	b := pageBuffer(len(recs), 4<<10)
	renderList(b, "/v1/disputes", hasMore, len(recs), func(i int) { renderDispute(b, t, v, recs[i]) })
	return b.Bytes(), nil
}

func renderDispute(b *bytes.Buffer, t *templateSet, v *values, r *disputeRec) {
	v.reset()
	var txns bytes.Buffer
	txns.WriteByte('[')
	for i, bt := range r.balance {
		if i > 0 {
			txns.WriteByte(',')
		}
		description, category := "Chargeback withdrawal for "+r.charge, "dispute"
		if bt.Amount > 0 {
			description, category = "Chargeback reversal for "+r.charge, "dispute_reversal"
		}
		t.balanceTransaction.render(&txns,
			field{"id", v.str(bt.ID)},
			field{"amount", v.int(bt.Amount)},
			field{"available_on", v.int(r.created)},
			field{"created", v.int(r.created)},
			field{"currency", v.str(r.currency)},
			field{"description", v.str(description)},
			field{"fee", v.int(0)},
			field{"net", v.int(bt.Amount)},
			field{"reporting_category", v.str(category)},
			field{"source", v.str(r.id)},
			field{"type", v.str("adjustment")},
		)
	}
	txns.WriteByte(']')
	t.dispute.render(b,
		field{"id", v.str(r.id)},
		field{"amount", v.int(r.amount)},
		field{"balance_transactions", txns.Bytes()},
		field{"charge", v.str(r.charge)},
		field{"created", v.int(r.created)},
		field{"currency", v.str(r.currency)},
		field{"is_charge_refundable", v.bool(strings.HasPrefix(r.status, "warning_"))},
		field{"livemode", v.bool(r.livemode)},
		field{"payment_intent", v.strOrNull(r.paymentIntent)},
		field{"status", v.str(r.status)},
	)
}
