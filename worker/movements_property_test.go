package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// The property: whatever subset of a money movement's events Stripe
// delivers (PaymentIntent, checkout, invoice, invoice payment, in either
// API version's shape), in whatever order, however often, and however
// concurrently they are applied through the worker's own path, every
// movement is at most one payment, and every invoice ends as the movements
// alone say: paid = Σ (amount - refunds pending or succeeded - disputes
// holding money), with stored totals equal to the rows.

// propMovement is one money movement of the property test, with what
// happens to it and which of its events are delivered.
type propMovement struct {
	api                     string
	pi, ch, cs, in, inpay   string
	amount                  int64
	namesInvoice            bool // its events name our invoice in metadata
	refunds                 []propRefund
	totalsOnly              bool // refunds known only by charge.refunded totals
	dispute                 *propDispute
	events                  []propEvent
	hasPayment, paysInvoice bool // the oracle's view, from the events delivered
}

type propRefund struct {
	id     string
	amount int64
	final  string // succeeded, pending or failed
}

type propDispute struct {
	id      string
	amount  int64
	outcome string // won, lost, open, inquiry
}

// propEvent is one event of a movement: its JSON, the ids it shows,
// whether it announces the payment and whether it names our invoice.
type propEvent struct {
	id       string
	raw      []byte
	refs     []string
	payment  bool
	namesInv bool
}

// counts reports whether the refund's money stays refunded.
func (r propRefund) counts() bool { return r.final != "failed" }

// refunded is what the movement's refunds hold back.
func (m *propMovement) refunded() int64 {
	var n int64
	for _, r := range m.refunds {
		if r.counts() {
			n += r.amount
		}
	}
	return n
}

// disputed is what the movement's dispute holds withdrawn.
func (m *propMovement) disputed() int64 {
	if d := m.dispute; d != nil && (d.outcome == "lost" || d.outcome == "open") {
		return d.amount
	}
	return 0
}

// propGen draws movements and their events for one invoice.
type propGen struct {
	r       *rand.Rand
	inv     string
	seq     int
	invoice int64
}

func (g *propGen) id(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s_%s_%d", prefix, g.inv, g.seq)
}

func (g *propGen) event(m *propMovement, typ string, obj map[string]any, payment bool, refs ...string) propEvent {
	id := g.id("evt")
	var shown []string
	for _, r := range refs {
		if r != "" {
			shown = append(shown, r)
		}
	}
	return propEvent{id: id, raw: eventAt(id, typ, m.api, false, obj), refs: shown, payment: payment,
		namesInv: payment && m.namesInvoice && typ != "invoice_payment.paid"}
}

// movement draws one movement of amount and every event Stripe could send
// of it; deliver then picks which arrive.
func (g *propGen) movement(amount int64) *propMovement {
	r := g.r
	m := &propMovement{api: apiOld, amount: amount, namesInvoice: r.IntN(10) < 7}
	if r.IntN(2) == 0 {
		m.api = apiNew
	}
	m.pi, m.ch = g.id("pi"), g.id("ch")
	kind := r.IntN(3) // 0: a plain PaymentIntent, 1: a payment-mode checkout, 2: a Stripe invoice
	if kind == 1 {
		m.cs = g.id("cs")
	}
	if kind == 2 {
		m.in = g.id("in")
		if r.IntN(2) == 0 {
			m.cs = g.id("cs") // a subscription checkout, paying through the invoice
		}
		if m.api == apiNew {
			m.inpay = g.id("inpay")
		}
	}
	our := ""
	if m.namesInvoice {
		our = g.inv
	}

	// The events that announce the payment.
	var pays []propEvent
	piInvoice := ""
	if m.api == apiOld {
		piInvoice = m.in
	}
	pays = append(pays, g.event(m, "payment_intent.succeeded", piObject(m.api, m.pi, m.ch, piInvoice, our, "usd", amount), true,
		m.pi, m.ch, piInvoice))
	if m.cs != "" {
		if m.in == "" {
			pays = append(pays, g.event(m, "checkout.session.completed",
				checkoutObject(m.cs, m.pi, "", our, "usd", "paid", amount), true, m.cs, m.pi))
		} else {
			pays = append(pays, g.event(m, "checkout.session.completed",
				checkoutObject(m.cs, "", m.in, our, "usd", "paid", amount), true, m.cs, m.in))
		}
	}
	if m.in != "" {
		if m.api == apiOld {
			pays = append(pays, g.event(m, "invoice.paid", invoiceObject(apiOld, m.in, m.pi, m.ch, our, "usd", amount), true,
				m.in, m.pi, m.ch))
		} else {
			pays = append(pays, g.event(m, "invoice.paid", invoiceObject(apiNew, m.in, "", "", our, "usd", amount), true, m.in),
				g.event(m, "invoice_payment.paid", invoicePaymentObject(m.inpay, m.in, m.pi, "usd", amount), true,
					m.inpay, m.in, m.pi))
		}
	}

	// Refunds, a dispute, a failed attempt, and a refund in another
	// currency, which needs review and never counts.
	var others []propEvent
	budget := amount / 2
	if r.IntN(10) < 3 && budget > 0 {
		m.totalsOnly = true
		total := 1 + r.Int64N(budget)
		m.refunds = []propRefund{{id: "", amount: total, final: "succeeded"}}
		// Cumulative totals, the last the highest; only the last is sure to
		// arrive.
		for _, v := range []int64{r.Int64N(total + 1), total} {
			others = append(others, g.event(m, "charge.refunded", chargeObject(m.ch, m.pi, "usd", amount, v, nil), false, m.ch, m.pi))
		}
	} else {
		for range r.IntN(3) {
			if budget <= 0 {
				break
			}
			ref := propRefund{id: g.id("re"), amount: 1 + r.Int64N(budget), final: []string{"succeeded", "pending", "failed"}[r.IntN(3)]}
			budget -= ref.amount
			m.refunds = append(m.refunds, ref)
		}
		var sum int64
		for i, ref := range m.refunds {
			sum += ref.amount
			// What Stripe sends along the refund's life; the event with its
			// final status is sure to arrive.
			others = append(others, g.event(m, "refund.created", refundObject(ref.id, m.ch, m.pi, "usd", "pending", ref.amount), false, m.ch, m.pi))
			if ref.final != "pending" {
				others = append(others, g.event(m, "charge.refund.updated",
					refundObject(ref.id, m.ch, m.pi, "usd", "succeeded", ref.amount), false, m.ch, m.pi))
			}
			var listed []map[string]any
			for _, x := range m.refunds[:i+1] {
				listed = append(listed, refundObject(x.id, m.ch, m.pi, "usd", "pending", x.amount))
			}
			if r.IntN(2) == 0 {
				listed = nil // the list is left out unless expanded
			}
			others = append(others, g.event(m, "charge.refunded", chargeObject(m.ch, m.pi, "usd", amount, sum, listed), false, m.ch, m.pi))
		}
		for _, ref := range m.refunds {
			typ := []string{"refund.updated", "charge.refund.updated", "refund.failed"}[r.IntN(3)]
			if ref.final != "failed" && typ == "refund.failed" {
				typ = "refund.updated"
			}
			final := g.event(m, typ, refundObject(ref.id, m.ch, m.pi, "usd", ref.final, ref.amount), false, m.ch, m.pi)
			others = append(others, final)
		}
	}
	if r.IntN(10) < 4 {
		d := &propDispute{id: g.id("dp"), amount: 1 + r.Int64N(amount-m.refunded()), outcome: []string{"won", "lost", "open", "inquiry"}[r.IntN(4)]}
		m.dispute = d
		dispute := func(typ, status string) propEvent {
			return g.event(m, typ, disputeObject(d.id, m.ch, m.pi, "usd", status, d.amount), false, m.ch, m.pi)
		}
		if d.outcome == "inquiry" {
			others = append(others, dispute("charge.dispute.created", "warning_needs_response"),
				dispute("charge.dispute.updated", "warning_under_review"), dispute("charge.dispute.closed", "warning_closed"))
		} else {
			others = append(others, dispute("charge.dispute.created", "needs_response"),
				dispute("charge.dispute.funds_withdrawn", "needs_response"), dispute("charge.dispute.updated", "under_review"))
			switch d.outcome {
			case "won":
				others = append(others, dispute("charge.dispute.funds_reinstated", "won"), dispute("charge.dispute.closed", "won"))
			case "lost":
				others = append(others, dispute("charge.dispute.closed", "lost"))
			}
		}
	}
	if r.IntN(10) < 2 {
		failed := piObject(m.api, m.pi, g.id("ch"), piInvoice, our, "usd", amount)
		failed["status"], failed["amount_received"] = "requires_payment_method", 0
		others = append(others, g.event(m, "payment_intent.payment_failed", failed, false, m.pi))
	}
	if r.IntN(10) < 2 {
		others = append(others, g.event(m, "charge.refunded", chargeObject(m.ch, m.pi, "eur", amount, amount, nil), false, m.ch, m.pi))
	}
	m.events = g.deliver(pays, others)
	return m
}

// deliver picks the events that arrive: a random subset of the payment's
// announcements and of the rest, always with each refund's and dispute's
// last event (what the final state is read from; the decoder tests hold
// earlier ones), and, when the subset would leave the movement's ids in
// two groups no event links, the events that link them: Stripe's own ids
// give no way to know two such groups are one movement.
func (g *propGen) deliver(pays, others []propEvent) []propEvent {
	r := g.r
	var out []propEvent
	for _, e := range pays {
		if r.IntN(2) == 0 {
			out = append(out, e)
		}
	}
	if len(out) == 0 && r.IntN(10) < 9 {
		out = append(out, pays[r.IntN(len(pays))]) // most movements are announced
	}
	keep := lastEvents(others)
	for i, e := range others {
		if keep[i] || r.IntN(2) == 0 {
			out = append(out, e)
		}
	}
	rest := slices.Clone(pays)
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	for !connected(out) {
		for i, e := range rest {
			if !slices.ContainsFunc(out, func(x propEvent) bool { return x.id == e.id }) {
				out = append(out, e)
				rest = slices.Delete(rest, i, i+1)
				break
			}
		}
	}
	return out
}

// lastEvents marks, among a movement's refund and dispute events, the
// last event of each refund id, of the dispute and of the refund totals.
func lastEvents(events []propEvent) map[int]bool {
	lastOf := map[string]int{}
	for i, e := range events {
		var head struct {
			Type string
			Data struct {
				Object struct {
					ID       string
					Object   string
					Currency string
				}
			}
		}
		_ = json.Unmarshal(e.raw, &head)
		key := head.Data.Object.ID
		if head.Type == "charge.refunded" {
			key = "totals " + head.Data.Object.Currency
		}
		if head.Type == "payment_intent.payment_failed" {
			continue
		}
		lastOf[key] = i
	}
	keep := map[int]bool{}
	for _, i := range lastOf {
		keep[i] = true
	}
	return keep
}

// connected reports whether the ids the events show form one group.
func connected(events []propEvent) bool {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			parent[x] = find(p)
			return parent[x]
		}
		parent[x] = x
		return x
	}
	for _, e := range events {
		for _, r := range e.refs[1:] {
			parent[find(r)] = find(e.refs[0])
		}
		find(e.refs[0])
	}
	roots := map[string]bool{}
	for x := range parent {
		roots[find(x)] = true
	}
	return len(roots) <= 1
}

// judge sets the oracle's view of the movement: whether a payment event
// arrives, and whether it can find the invoice (by its id, or by a Stripe
// invoice of the movement the invoice carries).
func (m *propMovement) judge(stripeInvoice string) {
	named := false
	for _, e := range m.events {
		m.hasPayment = m.hasPayment || e.payment
		named = named || e.namesInv
	}
	m.paysInvoice = m.hasPayment && (named || (stripeInvoice != "" && m.in == stripeInvoice && m.showsInvoice()))
}

// showsInvoice reports whether a delivered event shows the movement's
// Stripe invoice.
func (m *propMovement) showsInvoice() bool {
	for _, e := range m.events {
		if slices.Contains(e.refs, m.in) {
			return true
		}
	}
	return false
}

func propEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestMoneyMovementsProperty is the property above. PROPERTY_MOVEMENT_INVOICES
// (default 60) sets how many invoices, each with one to three movements;
// PROPERTY_SEED replays a run; PROPERTY_WORKERS (default 3) how many
// goroutines apply tasks at once.
func TestMoneyMovementsProperty(t *testing.T) {
	t.Parallel()
	checkMoneyMovements(t, 4, false)
}

// TestMoneyMovementsPropertyInLargeGroups is the same property with tasks
// of up to 64 events: group commits holding many events of the same
// movements and invoices, split and retried around their faults.
func TestMoneyMovementsPropertyInLargeGroups(t *testing.T) {
	t.Parallel()
	checkMoneyMovements(t, 64, false)
}

// TestMoneyMovementsPropertyInSharedGroups is the same property with the
// workers' tasks of up to 4 events sharing group commits: one group at a
// time, gathering the events of every task waiting for it.
func TestMoneyMovementsPropertyInSharedGroups(t *testing.T) {
	t.Parallel()
	checkMoneyMovements(t, 4, true)
}

// checkMoneyMovements delivers random movements' events in tasks of one to
// maxTask events and checks every invoice and payment against the model.
// With shared, the workers' tasks share one group commit at a time;
// otherwise each task is a group of its own.
func checkMoneyMovements(t *testing.T, maxTask int, shared bool) {
	invoices := propEnv("PROPERTY_MOVEMENT_INVOICES", 60)
	seed := uint64(propEnv("PROPERTY_SEED", int(rand.Uint32())))
	workers := propEnv("PROPERTY_WORKERS", 3)
	t.Logf("%d invoices, PROPERTY_SEED=%d", invoices, seed)
	pool := testenv.PoolOn(t, testenv.DatabaseURL(t), int32(workers+2))
	s := reconcile.NewStore(pool)
	concurrency := 2 * workers // a turn for every worker
	if shared {
		concurrency = 2 // one turn for all
	}
	h := newHandlers(t, s).WithConcurrency(concurrency)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 17))

	type scenario struct {
		inv       string
		amount    int64
		movements []*propMovement
	}
	var scenarios []scenario
	raws := map[string][]byte{}
	var order []string
	for i := range invoices {
		sc := scenario{inv: fmt.Sprintf("inv_prop_%d_%d", seed%100000, i), amount: int64(5000 + r.IntN(20000))}
		g := &propGen{r: r, inv: sc.inv, invoice: sc.amount}
		for range 1 + r.IntN(3) {
			sc.movements = append(sc.movements, g.movement(int64(1000+r.IntN(int(sc.amount)))))
		}
		stripeInvoice := ""
		for _, m := range sc.movements {
			if m.in != "" && r.IntN(2) == 0 {
				stripeInvoice = m.in
				break
			}
		}
		for _, m := range sc.movements {
			m.judge(stripeInvoice)
		}
		if _, err := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: sc.inv, Number: sc.inv, Client: "prop", Currency: "usd",
			Amount: reconcile.Amount(sc.amount), StripeInvoiceID: stripeInvoice}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, sc.inv); err != nil {
			t.Fatal(err)
		}
		for _, m := range sc.movements {
			for _, e := range m.events {
				raws[e.id] = e.raw
				for range 1 + r.IntN(3) {
					order = append(order, e.id)
				}
			}
		}
		scenarios = append(scenarios, sc)
	}
	storeEvents(t, s, raws)

	// Every event at least once, some several times, shuffled across
	// invoices, in tasks of one to four, applied by several workers at once.
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	tasks := make(chan []string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var faults []string
	for range workers {
		wg.Go(func() {
			for ids := range tasks {
				if err := processWithRetries(ctx, h, ids); err != nil {
					mu.Lock()
					faults = append(faults, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	for len(order) > 0 {
		n := min(len(order), 1+r.IntN(maxTask))
		tasks <- order[:n]
		order = order[n:]
	}
	close(tasks)
	wg.Wait()
	for _, f := range faults {
		t.Error(f)
	}
	// Reconciliation matches again what stayed unmatched: its invoice, or
	// its payment, may have been found since.
	unmatched, err := s.StaleEvents(ctx, reconcile.EventUnmatched, 0, "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range unmatched {
		if err := processWithRetries(ctx, h, []string{id}); err != nil {
			t.Fatal(err)
		}
	}

	for _, sc := range scenarios {
		d, err := s.GetInvoiceDetail(ctx, sc.inv)
		if err != nil {
			t.Fatal(err)
		}
		var paid, refunded, disputed int64
		var payments int
		for _, m := range sc.movements {
			if !m.paysInvoice {
				continue
			}
			payments++
			paid += m.amount - m.refunded() - m.disputed()
			refunded += m.refunded()
			disputed += m.disputed()
		}
		got := fmt.Sprintf("paid %d refunded %d disputed %d balance %d in %d payments",
			d.PaidAmount, d.RefundedAmount, d.DisputedAmount, d.Balance, len(d.Payments))
		want := fmt.Sprintf("paid %d refunded %d disputed %d balance %d in %d payments",
			paid, refunded, disputed, sc.amount-paid, payments)
		if got != want {
			t.Errorf("invoice %s (seed %d): %s, want %s\n%s", sc.inv, seed, got, want, describe(sc.movements))
			continue
		}
		// Each payment is its movement's, with its own figures.
		for _, p := range d.Payments {
			m := movementOf(sc.movements, p)
			if m == nil {
				t.Errorf("invoice %s: payment %s (%v) is no movement's", sc.inv, p.ID, p.ProviderRef)
				continue
			}
			if p.Amount != reconcile.Amount(m.amount) || p.RefundedAmount != reconcile.Amount(m.refunded()) ||
				p.DisputedAmount != reconcile.Amount(m.disputed()) {
				t.Errorf("invoice %s: payment %s is %d refunded %d disputed %d, want %d, %d, %d", sc.inv, p.ID,
					p.Amount, p.RefundedAmount, p.DisputedAmount, m.amount, m.refunded(), m.disputed())
			}
		}
	}
	checkRowsTruth(t, pool)
}

// processWithRetries applies a task as Asynq would, retrying a fault.
func processWithRetries(ctx context.Context, h *worker.Handlers, ids []string) error {
	payload, _ := json.Marshal(worker.EventPayload{EventIDs: ids})
	var err error
	for range 5 {
		if err = h.ProcessEvent(ctx, asynq.NewTask(worker.TypeProcessEvent, payload)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("process %v: %w", ids, err)
}

// movementOf finds the movement a payment is of, by its provider ref.
func movementOf(ms []*propMovement, p reconcile.Payment) *propMovement {
	for _, m := range ms {
		if p.ProviderRef != nil && slices.Contains([]string{m.pi, m.ch, m.cs, m.in, m.inpay}, *p.ProviderRef) {
			return m
		}
	}
	return nil
}

func describe(ms []*propMovement) string {
	var out string
	for _, m := range ms {
		out += fmt.Sprintf("  movement %s api %s amount %d names invoice %v pays %v refunds %+v totals only %v dispute %+v\n",
			m.pi, m.api, m.amount, m.namesInvoice, m.paysInvoice, m.refunds, m.totalsOnly, m.dispute)
		for _, e := range m.events {
			var head struct{ Type string }
			_ = json.Unmarshal(e.raw, &head)
			out += fmt.Sprintf("    %s %s %v\n", e.id, head.Type, e.refs)
		}
	}
	return out
}

// checkRowsTruth fails when an invoice's stored totals differ from its rows
// (invoice_truth), or a payment's cached refunds and disputes from theirs
// (payment_truth), or a movement has two live payments.
func checkRowsTruth(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var invoices, payments, doubled int
	err := pool.QueryRow(context.Background(), `
		SELECT
			(SELECT count(*) FROM invoices i JOIN invoice_truth v USING (id)
			 WHERE (i.paid_amount, i.refunded_amount, i.disputed_amount, i.written_off_amount, i.balance, i.state)
			    IS DISTINCT FROM (v.paid_amount, v.refunded_amount, v.disputed_amount, v.written_off_amount, v.balance, v.state)),
			(SELECT count(*) FROM payments p JOIN payment_truth v USING (id)
			 WHERE p.deleted_at IS NULL AND (p.refunded_amount, p.disputed_amount) IS DISTINCT FROM (v.refunded_amount, v.disputed_amount)),
			(SELECT count(*) FROM (SELECT movement_id FROM payments WHERE deleted_at IS NULL AND movement_id IS NOT NULL
			                       GROUP BY movement_id HAVING count(*) > 1) x)`).Scan(&invoices, &payments, &doubled)
	if err != nil {
		t.Fatal(err)
	}
	if invoices+payments+doubled != 0 {
		t.Fatalf("%d invoices and %d payments differ from their rows; %d movements have two payments", invoices, payments, doubled)
	}
}
