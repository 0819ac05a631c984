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
	refunds  map[string]int64 // cumulative refund per provider ref
	writeOff int64            // the live write-off's amount; 0 when none
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

func (m *model) totals() totals {
	paid := m.paid()
	var wo int64
	if m.writeOff > 0 {
		wo = min(m.writeOff, max(m.amount-paid, 0))
	}
	t := totals{Paid: reconcile.Amount(paid), WrittenOff: reconcile.Amount(wo), Balance: reconcile.Amount(m.amount - paid - wo)}
	switch {
	case paid >= m.amount:
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
	case n < 8:
		return op{name: "send",
			run: func(ctx context.Context, s *reconcile.Store) error {
				_, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv)
				return err
			},
			expect: func(m *model) string { m.sent = true; return "" }}
	case n < 30:
		amount := int64(1 + r.IntN(int(m.amount/2)))
		k := fmt.Sprintf("%s-pay-%d", inv, r.Uint64())
		var pay reconcile.Payment
		return op{name: fmt.Sprintf("manual %d", amount),
			run: func(ctx context.Context, s *reconcile.Store) error {
				var err error
				_, pay, err = s.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: k, InvoiceID: inv, Amount: reconcile.Amount(amount), PaidDate: today})
				return err
			},
			expect: func(m *model) string {
				if !m.sent {
					return "invoice_not_sent"
				}
				if amount > m.amount-m.paid() {
					return "overpayment"
				}
				m.payments = append(m.payments, &modelPayment{amount: amount})
				return ""
			},
			after: func(m *model) { m.payments[len(m.payments)-1].id = pay.ID }}
	case n < 50:
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
	case n < 65:
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
	case n < 78:
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
				_, err := s.DeletePayment(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv, id)
				return err
			},
			expect: func(m *model) string {
				if m.totals().State == reconcile.StateWrittenOff {
					return "invoice_written_off"
				}
				if target.deleted {
					return "payment_not_found"
				}
				target.deleted = true
				return ""
			}}
	case n < 90:
		k := fmt.Sprintf("%s-wo-%d", inv, r.Uint64())
		return op{name: "write off",
			run: func(ctx context.Context, s *reconcile.Store) error {
				_, err := s.WriteOff(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv, "bad debt")
				return err
			},
			expect: func(m *model) string {
				t := m.totals()
				switch {
				case !m.sent:
					return "invoice_not_sent"
				case t.State == reconcile.StateWrittenOff:
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
			run: func(ctx context.Context, s *reconcile.Store) error {
				_, err := s.Reopen(ctx, reconcile.Op{Key: k, Actor: "tester"}, inv)
				return err
			},
			expect: func(m *model) string {
				if m.totals().State != reconcile.StateWrittenOff {
					return "not_written_off"
				}
				m.writeOff = 0
				return ""
			}}
	}
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
// refunds in any order and repeated, write-offs, reopens) and, after every
// operation, holds the ledger to the model: same error, same totals, stored
// totals equal to the rows, and a replay of the operation changes nothing.
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
				if msg := runSequence(ctx, s, r, i); msg != "" {
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

func runSequence(ctx context.Context, s *reconcile.Store, r *rand.Rand, i int) string {
	amount := int64(1000 + r.IntN(20000))
	inv, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", Number: fmt.Sprint(i), Client: "prop", Currency: "usd", Amount: reconcile.Amount(amount)})
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
		if totalsOf(stored) != m.totals() {
			return fmt.Sprintf("invoice %s after %v: ledger %+v, model %+v", inv.ID, trace, totalsOf(stored), m.totals())
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
