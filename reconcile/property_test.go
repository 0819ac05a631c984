package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
)

// model is an independent Go statement of the ledger's rules, the oracle the
// property test holds the PostgreSQL ledger to.
type model struct {
	amount   int64
	sent     bool
	payments []*modelPayment
	credits  []*modelCredit
	refunds  map[string]int64 // cumulative refund per provider ref
	writeOff int64            // the live write-off's amount; 0 when none
}

type modelCredit struct {
	id       string // the ledger's id, learned when issued
	amount   int64
	reversed bool
}

type modelPayment struct {
	id       string // the ledger's id, learned when recorded
	ref      string // provider ref of an online payment
	amount   int64
	refunded int64
	deleted  bool
}

func (m *model) paid() int64 {
	var p int64
	for _, x := range m.payments {
		if !x.deleted {
			p += x.amount - x.refunded
		}
	}
	return p
}

func (m *model) credited() int64 {
	var c int64
	for _, x := range m.credits {
		if !x.reversed {
			c += x.amount
		}
	}
	return c
}

// totals are the invoice's figures by the rules: a write-off covers what
// the payments and credit notes leave, and an invoice with nothing left due
// after them is paid.
func (m *model) totals() credited {
	paid, cred := m.paid(), m.credited()
	var wo int64
	if m.writeOff > 0 {
		wo = min(m.writeOff, max(m.amount-cred-paid, 0))
	}
	t := credited{Credited: reconcile.Amount(cred), Paid: reconcile.Amount(paid), WrittenOff: reconcile.Amount(wo),
		Balance: reconcile.Amount(m.amount - cred - paid - wo)}
	switch {
	case paid >= m.amount-cred:
		t.State = reconcile.StatePaid
	case wo > 0:
		t.State = reconcile.StateWrittenOff
	case !m.sent && paid == 0:
		t.State = reconcile.StateDraft
	case paid <= 0:
		t.State = reconcile.StateOpen
	default:
		t.State = reconcile.StatePartial
	}
	return t
}

// op is one random operation; apply runs it on the ledger and the model and
// returns the ledger's error code ("" for success) and the model's.
type op struct {
	name string
	run  func(ctx context.Context, s *reconcile.Store) error
	// expect updates the model and says which error code the ledger must give.
	expect func(m *model) string
	// after learns from the ledger what the model needs (a payment id).
	after func(m *model)
}

func errCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return "fault: " + err.Error()
}

// randomOp draws an operation for invoice inv. refs are the payment intents
// this invoice may see, with their fixed amounts (every event of one intent
// carries the same amount).
func randomOp(r *rand.Rand, inv string, refs map[string]int64, refNames []string, m *model) op {
	switch n := r.IntN(100); {
	case n < 7:
		return op{name: "send",
			run:    func(ctx context.Context, s *reconcile.Store) error { _, err := s.SendInvoice(ctx, inv); return err },
			expect: func(m *model) string { m.sent = true; return "" }}
	case n < 25:
		amount := int64(1 + r.IntN(int(m.amount/2)))
		k := fmt.Sprintf("%s-pay-%d", inv, r.Uint64())
		var pay reconcile.Payment
		return op{name: fmt.Sprintf("manual %d", amount),
			run: func(ctx context.Context, s *reconcile.Store) error {
				var err error
				_, pay, err = s.RecordManualPayment(ctx, reconcile.ManualPayment{Key: k, InvoiceID: inv, Amount: reconcile.Amount(amount), PaidDate: today})
				return err
			},
			expect: func(m *model) string {
				if !m.sent {
					return "invoice_not_sent"
				}
				if amount > m.amount-m.credited()-m.paid() {
					return "overpayment"
				}
				m.payments = append(m.payments, &modelPayment{amount: amount})
				return ""
			},
			after: func(m *model) { m.payments[len(m.payments)-1].id = pay.ID }}
	case n < 40:
		ref := refNames[r.IntN(len(refNames))]
		return op{name: "online " + ref,
			run: func(ctx context.Context, s *reconcile.Store) error {
				_, err := s.RecordOnlinePayment(ctx, "", online(ref, inv, reconcile.Amount(refs[ref])))
				return err
			},
			expect: func(m *model) string {
				for _, p := range m.payments {
					if p.ref == ref {
						return ""
					}
				}
				m.payments = append(m.payments, &modelPayment{ref: ref, amount: refs[ref], refunded: min(refs[ref], m.refunds[ref])})
				return ""
			}}
	case n < 50:
		ref := refNames[r.IntN(len(refNames))]
		total := int64(r.IntN(int(refs[ref]) + 1))
		return op{name: fmt.Sprintf("refund %s to %d", ref, total),
			run: func(ctx context.Context, s *reconcile.Store) error {
				_, err := s.ApplyRefund(ctx, "", reconcile.Refund{ProviderRef: ref, AmountRefunded: reconcile.Amount(total), Currency: "usd"})
				return err
			},
			expect: func(m *model) string {
				m.refunds[ref] = max(m.refunds[ref], total)
				for _, p := range m.payments {
					if p.ref == ref && !p.deleted {
						p.refunded = max(p.refunded, min(p.amount, m.refunds[ref]))
					}
				}
				return ""
			}}
	case n < 62:
		return creditOp(r, inv, m)
	case n < 69:
		if len(m.credits) == 0 {
			return randomOp(r, inv, refs, refNames, m)
		}
		return reverseOp(r, inv, m.credits[r.IntN(len(m.credits))])
	case n < 79:
		if len(m.payments) == 0 {
			return randomOp(r, inv, refs, refNames, m)
		}
		target := m.payments[r.IntN(len(m.payments))]
		k := fmt.Sprintf("%s-del-%d", inv, r.Uint64())
		return op{name: "delete " + target.id + target.ref,
			run: func(ctx context.Context, s *reconcile.Store) error {
				id := target.id
				if target.ref != "" { // an online payment: learn its id from the ledger
					id = "pay_unknown"
					d, err := s.GetInvoiceDetail(ctx, inv)
					if err != nil {
						return err
					}
					for _, p := range d.Payments {
						if p.ProviderRef != nil && *p.ProviderRef == target.ref {
							id = p.ID
						}
					}
				}
				_, err := s.DeletePayment(ctx, k, inv, id)
				return err
			},
			expect: func(m *model) string {
				switch {
				case target.deleted:
					return "payment_not_found"
				case target.ref != "": // money Stripe took is refunded in Stripe
					return "provider_payment"
				case m.writeOff > 0: // a live write-off, whatever the state reads
					return "invoice_written_off"
				}
				target.deleted = true
				return ""
			}}
	case n < 90:
		k := fmt.Sprintf("%s-wo-%d", inv, r.Uint64())
		return op{name: "write off",
			run: func(ctx context.Context, s *reconcile.Store) error {
				_, err := s.WriteOff(ctx, k, inv, "bad debt")
				return err
			},
			expect: func(m *model) string {
				t := m.totals()
				switch {
				case !m.sent:
					return "invoice_not_sent"
				case m.writeOff > 0:
					return "already_written_off"
				case t.Balance <= 0:
					return "no_balance"
				}
				m.writeOff = int64(t.Balance)
				return ""
			}}
	default:
		k := fmt.Sprintf("%s-reopen-%d", inv, r.Uint64())
		return op{name: "reopen",
			run: func(ctx context.Context, s *reconcile.Store) error { _, err := s.Reopen(ctx, k, inv); return err },
			expect: func(m *model) string {
				if m.writeOff == 0 {
					return "not_written_off"
				}
				m.writeOff = 0
				return ""
			}}
	}
}

// creditOp issues a credit note of up to half the invoice's amount.
func creditOp(r *rand.Rand, inv string, m *model) op {
	amount := int64(1 + r.IntN(int(m.amount/2)))
	reason := reconcile.CreditReasons()[r.IntN(len(reconcile.CreditReasons()))]
	k := fmt.Sprintf("%s-cn-%d", inv, r.Uint64())
	var cn reconcile.CreditNote
	return op{name: fmt.Sprintf("credit %d", amount),
		run: func(ctx context.Context, s *reconcile.Store) error {
			var err error
			_, cn, err = s.IssueCreditNote(ctx, reconcile.NewCreditNote{Key: k, InvoiceID: inv, Amount: reconcile.Amount(amount), Reason: reason})
			return err
		},
		expect: func(m *model) string {
			switch {
			case !m.sent:
				return "invoice_not_sent"
			case amount > int64(m.totals().Balance):
				return "credit_note_exceeds_balance"
			}
			m.credits = append(m.credits, &modelCredit{amount: amount})
			return ""
		},
		after: func(m *model) { m.credits[len(m.credits)-1].id = cn.ID }}
}

// reverseOp reverses a credit note the sequence issued.
func reverseOp(r *rand.Rand, inv string, target *modelCredit) op {
	k := fmt.Sprintf("%s-rev-%d", inv, r.Uint64())
	return op{name: "reverse " + target.id,
		run: func(ctx context.Context, s *reconcile.Store) error {
			_, err := s.ReverseCreditNote(ctx, k, inv, target.id)
			return err
		},
		expect: func(m *model) string {
			switch {
			case target.reversed:
				return "credit_note_not_found"
			case m.writeOff > 0:
				return "invoice_written_off"
			}
			target.reversed = true
			return ""
		}}
}

// truthOf compares an invoice's stored totals with what invoice_truth
// computes from its rows; "" when they agree.
func truthOf(ctx context.Context, db *pgxpool.Pool, inv reconcile.Invoice) string {
	var t credited
	err := db.QueryRow(ctx, `SELECT credited_amount, paid_amount, written_off_amount, balance, state
		FROM invoice_truth WHERE id = $1`, inv.ID).Scan(&t.Credited, &t.Paid, &t.WrittenOff, &t.Balance, &t.State)
	if err != nil {
		return "read invoice_truth: " + err.Error()
	}
	if creditedOf(inv) != t {
		return fmt.Sprintf("stored %+v, invoice_truth %+v", creditedOf(inv), t)
	}
	return ""
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestLedgerMatchesModel runs random operation sequences (payments, deletes,
// refunds in any order and repeated, credit notes and their reversals,
// write-offs, reopens) and, after every operation, holds the ledger to the
// model: same error, same totals, the balance formula exact, stored totals
// equal to invoice_truth, and a replay of the operation changes nothing.
func TestLedgerMatchesModel(t *testing.T) {
	t.Parallel()
	sequences := envInt("PROPERTY_SEQUENCES", 1000)
	seed := uint64(envInt("PROPERTY_SEED", int(rand.Uint32())))
	t.Logf("%d sequences, PROPERTY_SEED=%d", sequences, seed)
	s, db := testenv.Store(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	const workers = 4
	errs := make(chan string, workers)
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := w; i < sequences; i += workers {
				if msg := runSequence(ctx, s, db, r, i); msg != "" {
					errs <- msg
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	checkTruth(t, db)
}

func runSequence(ctx context.Context, s *reconcile.Store, db *pgxpool.Pool, r *rand.Rand, i int) string {
	amount := int64(1000 + r.IntN(20000))
	inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Number: fmt.Sprint(i), Client: "prop", Currency: "usd", Amount: reconcile.Amount(amount)})
	if err != nil {
		return err.Error()
	}
	m := &model{amount: amount, refunds: map[string]int64{}}
	refs := map[string]int64{}
	var names []string
	for j := range 1 + r.IntN(3) {
		name := fmt.Sprintf("pi_%s_%d", inv.ID, j)
		refs[name] = int64(1 + r.IntN(int(amount)))
		names = append(names, name)
	}
	var trace []string
	for range 5 + r.IntN(20) {
		o := randomOp(r, inv.ID, refs, names, m)
		trace = append(trace, o.name)
		want := o.expect(m)
		got := errCode(o.run(ctx, s))
		if got != want {
			return fmt.Sprintf("invoice %s after %v: ledger said %q, model %q", inv.ID, trace, got, want)
		}
		if got == "" && o.after != nil {
			o.after(m)
		}
		stored, err := s.GetInvoice(ctx, inv.ID)
		if err != nil {
			return err.Error()
		}
		if creditedOf(stored) != m.totals() {
			return fmt.Sprintf("invoice %s after %v: ledger %+v, model %+v", inv.ID, trace, creditedOf(stored), m.totals())
		}
		if stored.Balance != stored.Amount-stored.CreditedAmount-stored.PaidAmount-stored.WrittenOffAmount {
			return fmt.Sprintf("invoice %s after %v: balance %d breaks the formula: %+v", inv.ID, trace, stored.Balance, stored)
		}
		if msg := truthOf(ctx, db, stored); msg != "" {
			return fmt.Sprintf("invoice %s after %v: %s", inv.ID, trace, msg)
		}
		// A replay of a successful keyed operation changes nothing.
		if got == "" {
			_ = o.run(ctx, s)
			again, err := s.GetInvoice(ctx, inv.ID)
			if err != nil {
				return err.Error()
			}
			if a, b := fmt.Sprint(jsonOf(again)), fmt.Sprint(jsonOf(stored)); a != b {
				return fmt.Sprintf("invoice %s after %v: replay changed %+v to %+v", inv.ID, trace, stored, again)
			}
		}
	}
	return ""
}
