package worker_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestGroupCommitOfOneTask applies one task whose events touch the same
// invoice twice, announce the same movement three times, include refusals
// of every kind and one poison event (its payment would take the invoice's
// paid amount past what a bigint holds, so PostgreSQL refuses the
// recompute: an error no rule foresees). Every other event must end exactly
// as it would alone, committed together; the poison event alone stays to
// be retried.
func TestGroupCommitOfOneTask(t *testing.T) {
	t.Parallel()
	s, pool := testenv.Store(t)
	reg := prometheus.NewRegistry()
	h := newHandlers(t, s).WithMetrics(worker.NewMetrics(reg))
	ctx := context.Background()
	sentInvoice(t, s, "inv_grp_a", 10000)
	sentInvoice(t, s, "inv_grp_poison", 1000)
	sentInvoice(t, s, "inv_grp_b", 4000)
	sentInvoice(t, s, "inv_grp_c", 4000)
	// The poison's invoice already holds a payment near the bigint's limit.
	deliver(t, s, h, piSucceeded("evt_grp_huge", "pi_grp_huge", "inv_grp_poison", math.MaxInt64-1000))

	eurPayment := stripeEvent("evt_grp_eur", "payment_intent.succeeded", map[string]any{
		"id": "pi_grp_eur", "object": "payment_intent", "amount": 700, "amount_received": 700, "currency": "eur",
		"status": "succeeded", "metadata": map[string]any{"invoice_id": "inv_grp_a"}})
	task := []struct {
		id   string
		raw  []byte
		want reconcile.EventStatus
	}{
		// New movements, each alone on its invoice: written together.
		{"evt_grp_b", piSucceeded("evt_grp_b", "pi_grp_b", "inv_grp_b", 4000), reconcile.EventProcessed},
		{"evt_grp_c", checkoutCompleted("evt_grp_c", "pi_grp_c", "inv_grp_c", 1500), reconcile.EventProcessed},
		// The same invoice, by two movements.
		{"evt_grp_a1", piSucceeded("evt_grp_a1", "pi_grp_1", "inv_grp_a", 3000), reconcile.EventProcessed},
		{"evt_grp_a2", piSucceeded("evt_grp_a2", "pi_grp_2", "inv_grp_a", 2000), reconcile.EventProcessed},
		// The same movement as a1, again: its checkout, a refund, a duplicate.
		{"evt_grp_cs1", checkoutCompleted("evt_grp_cs1", "pi_grp_1", "inv_grp_a", 3000), reconcile.EventProcessed},
		{"evt_grp_r1", chargeRefunded("evt_grp_r1", "pi_grp_1", 3000, 500), reconcile.EventProcessed},
		// The poison.
		{"evt_grp_poison", piSucceeded("evt_grp_poison", "pi_grp_poison", "inv_grp_poison", 5000), reconcile.EventReceived},
		// Refusals: no such invoice, another currency, a malformed object.
		{"evt_grp_nobody", piSucceeded("evt_grp_nobody", "pi_grp_nobody", "inv_grp_missing", 100), reconcile.EventUnmatched},
		{"evt_grp_eur", eurPayment, reconcile.EventNeedsReview},
		{"evt_grp_bad", piSucceeded("evt_grp_bad", "pi_grp_bad\x00", "inv_grp_a", 100), reconcile.EventFailed},
		// A refund of a2, after the poison in the task.
		{"evt_grp_r2", chargeRefunded("evt_grp_r2", "pi_grp_2", 2000, 2000), reconcile.EventProcessed},
	}
	raws := map[string][]byte{}
	var ids []string
	for _, e := range task {
		raws[e.id] = e.raw
		ids = append(ids, e.id)
	}
	storeEvents(t, s, raws)
	ids = append(ids, "evt_grp_a1", "evt_grp_r1") // delivered twice within the task

	payload, _ := json.Marshal(worker.EventPayload{EventIDs: ids})
	groupsBefore, eventsBefore := groupMetric(t, reg)
	delaysBefore := delayCount(t, reg)
	if err := h.ProcessEvent(ctx, asynq.NewTask(worker.TypeProcessEvent, payload)); err == nil {
		t.Fatal("ProcessEvent: nil, want the poison event's fault handed back for a retry")
	}
	// Each event that committed a status once, however often its halves
	// rolled back: all but the poison.
	if got := delayCount(t, reg) - delaysBefore; got != uint64(len(task)-1) {
		t.Errorf("reconciler_event_apply_delay_seconds: %d delays observed, want %d", got, len(task)-1)
	}
	// One group of the task's 11 events, however it split.
	if groups, events := groupMetric(t, reg); groups-groupsBefore != 1 || events-eventsBefore != float64(len(task)) {
		t.Errorf("reconciler_event_group_events: %d groups of %v events, want 1 of %d",
			groups-groupsBefore, events-eventsBefore, len(task))
	}

	for _, e := range task {
		mustStatus(t, s, e.id, e.want)
	}
	// a1 and its checkout are one payment of 3000 less 500 refunded; a2 is
	// refunded in full.
	mustFigures(t, s, "inv_grp_a", figures{Paid: 2500, Refunded: 2500, Balance: 7500, State: reconcile.StatePartial, Payments: 2})
	mustFigures(t, s, "inv_grp_b", figures{Paid: 4000, Balance: 0, State: reconcile.StatePaid, Payments: 1})
	mustFigures(t, s, "inv_grp_c", figures{Paid: 1500, Balance: 2500, State: reconcile.StatePartial, Payments: 1})
	mustFigures(t, s, "inv_grp_poison", figures{Paid: math.MaxInt64 - 1000, Balance: 1000 - (math.MaxInt64 - 1000),
		State: reconcile.StatePaid, Payments: 1})

	// The halves that held no poison each committed as one transaction, so
	// the events of each share one processed_at; the groups are few.
	var groups int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT processed_at) FROM events WHERE id LIKE 'evt_grp_%' AND id <> 'evt_grp_huge'
		AND processed_at IS NOT NULL`).Scan(&groups); err != nil {
		t.Fatal(err)
	}
	if groups < 1 || groups > 5 {
		t.Errorf("the task committed in %d transactions, want the few halves a split of 11 events makes around one poison", groups)
	}
	checkRowsTruth(t, pool)
	// A payment written with others is its movement's like any: its
	// checkout's session, its refund and its history are its own.
	d, err := s.GetInvoiceDetail(ctx, "inv_grp_c")
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Payments[0]; p.ProviderRef == nil || *p.ProviderRef != "pi_grp_c" {
		t.Errorf("payment of inv_grp_c names %v, want pi_grp_c", p.ProviderRef)
	}
	var kinds []reconcile.HistoryKind
	for _, h := range d.History {
		kinds = append(kinds, h.Kind)
	}
	if want := []reconcile.HistoryKind{reconcile.HistoryCreated, reconcile.HistorySent, reconcile.HistoryPaymentRecorded}; !slices.Equal(kinds, want) {
		t.Errorf("history of inv_grp_c %v, want %v", kinds, want)
	}
	deliver(t, s, h, checkoutCompleted("evt_grp_c_again", "pi_grp_c", "inv_grp_c", 1500), chargeRefunded("evt_grp_c_refund", "pi_grp_c", 1500, 1500))
	mustFigures(t, s, "inv_grp_c", figures{Paid: 0, Refunded: 1500, Balance: 4000, State: reconcile.StateOpen, Payments: 1})

	// The retry of the task finds the rest final and the poison still poison.
	if err := h.ProcessEvent(ctx, asynq.NewTask(worker.TypeProcessEvent, payload)); err == nil {
		t.Fatal("retry: nil, want the poison event's fault again")
	}
	mustStatus(t, s, "evt_grp_poison", reconcile.EventReceived)
	mustFigures(t, s, "inv_grp_a", figures{Paid: 2500, Refunded: 2500, Balance: 7500, State: reconcile.StatePartial, Payments: 2})
}

// groupMetric reads reconciler_event_group_events: how many group commits
// it counted, and their events in all.
func groupMetric(t *testing.T, reg *prometheus.Registry) (uint64, float64) {
	t.Helper()
	ms := series(t, reg, "reconciler_event_group_events")
	if len(ms) == 0 {
		t.Fatal("no reconciler_event_group_events")
	}
	h := ms[0].GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}
