package chaos

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Report is what a run did and found.
type Report struct {
	// Invoices counts the invoices the load created and sent.
	Invoices int
	// EventsSent counts the distinct Stripe events posted, Deliveries every
	// post (duplicates and retries), WebhookNon200 the posts not answered
	// 200 (outages), Webhook4xx those refused outright.
	EventsSent, Deliveries, WebhookNon200, Webhook4xx int
	// Intents counts the PaymentIntents announced; IntentsTwoEvents those
	// announced by both payment_intent.succeeded and
	// checkout.session.completed; IntentsRefundFirst those whose refund was
	// acknowledged before any event of their payment.
	Intents, IntentsTwoEvents, IntentsRefundFirst int
	// EventsAcked counts the events answered 200 at least once; Unacked
	// those never answered 200 however often they were sent.
	EventsAcked, Unacked int
	// Applied counts the acked events whose effect the ledger holds once;
	// Lost those whose effect it lacks; Doubled effects held twice.
	Applied, Lost, Doubled int
	// IgnoredSent counts the distinct events posted of types the service
	// ignores (customer.updated, product.created...); IgnoredAcked those
	// answered 200, IgnoredUnacked those never answered 200, IgnoredStored
	// the acked ones stored with status ignored, IgnoredWrongStatus the
	// acked ones stored with another status. An acked one not stored at all
	// counts in Lost.
	IgnoredSent, IgnoredAcked, IgnoredUnacked, IgnoredStored, IgnoredWrongStatus int
	// WebhookAnswerMax is the longest any webhook delivery waited for its
	// answer, whatever the answer; WebhookAnswersSlow counts the deliveries
	// that waited longer than answerLimit (15s).
	WebhookAnswerMax   time.Duration
	WebhookAnswersSlow int
	// PaymentToPaidInvoices counts the invoices paid by online payments
	// alone (see driver.paymentToPaid); PaymentToPaidP50, P99 and Max are
	// the times from the first 200 to the payment that completed one to the
	// moment it read paid. PaymentToPaidCalmInvoices and
	// PaymentToPaidCalmMax are the same for those paid away from any
	// fault: what the hanging receiver alone may have delayed.
	PaymentToPaidInvoices, PaymentToPaidCalmInvoices                           int
	PaymentToPaidP50, PaymentToPaidP99, PaymentToPaidMax, PaymentToPaidCalmMax time.Duration
	// ReceiverRequests counts the notification requests the hanging
	// receiver got (and never answered).
	ReceiverRequests int

	// AdminRequests counts operators' job requests (not their retries),
	// AdminRefused those answered 4xx, AdminErrors the attempts answered 5xx
	// or not at all, AmbiguousKeyless the requests without a key left
	// without an answer (they may or may not have been queued), Abandoned
	// the keyed ones given up after retryFor.
	AdminRequests, AdminRefused, AdminErrors, AmbiguousKeyless, Abandoned int
	// Replays counts requests sent again with their key after a 202;
	// ReplaysRefused those answered 4xx instead of their job.
	Replays, ReplaysRefused int
	// JobsSubmitted counts the distinct jobs answered 202, by the status the
	// admin API reports once settled.
	JobsSubmitted, JobsSucceeded, JobsFailed, JobsUnfinished int
	// JobsDoubled counts jobs applied twice, or one key answered with two
	// jobs; JobsLost succeeded jobs without their effect; JobsFailedApplied
	// failed jobs that changed something.
	JobsDoubled, JobsLost, JobsFailedApplied int
	// JobsUnexplained counts ledger changes by operators' jobs nobody was
	// answered 202 for; at most AmbiguousKeyless+Abandoned are expected.
	JobsUnexplained int

	// Drift counts invoices whose stored totals differed from invoice_truth:
	// after settling, after the full reconciliation, and as found by the
	// scheduled runs; FinalRunDrift is what the full run itself found.
	Drift, FinalRunDrift int
	// Faults counts the faults injected, by kind.
	Faults map[Fault]int
	// SecretsInLogs counts log lines holding the admin token, the webhook
	// secret or the canary placed in bodies and notes.
	SecretsInLogs int
	// PanicsInLogs counts log lines that mention a panic.
	PanicsInLogs int
	// UnexpectedExits counts service processes that exited by themselves;
	// UncleanStops those that did not exit 0 on SIGTERM at the end.
	UnexpectedExits, UncleanStops int
	// SettleSeconds is how long the system took to finish its work once
	// the load and the faults stopped.
	SettleSeconds float64

	// Evidence holds what a reader needs to chase a failure: ids, statuses.
	Evidence []string
	// Dir is where the logs are, when they were kept.
	Dir string
}

type figure struct {
	name  string
	value string
}

func (r *Report) figures() []figure {
	n := func(name string, v int) figure { return figure{name, strconv.Itoa(v)} }
	ms := func(name string, v time.Duration) figure {
		return figure{name, strconv.FormatInt(v.Milliseconds(), 10)}
	}
	out := []figure{
		n("invoices", r.Invoices),
		n("payment_intents", r.Intents),
		n("payment_intents_two_events", r.IntentsTwoEvents),
		n("payment_intents_refund_first", r.IntentsRefundFirst),
		n("events_sent", r.EventsSent),
		n("deliveries", r.Deliveries),
		n("webhook_non200", r.WebhookNon200),
		n("events_acked", r.EventsAcked),
		n("events_unacked", r.Unacked),
		n("applied", r.Applied),
		n("lost", r.Lost),
		n("doubled", r.Doubled),
		n("ignored_events_sent", r.IgnoredSent),
		n("ignored_events_acked", r.IgnoredAcked),
		n("ignored_events_unacked", r.IgnoredUnacked),
		n("ignored_events_stored_ignored", r.IgnoredStored),
		n("ignored_events_wrong_status", r.IgnoredWrongStatus),
		ms("webhook_answer_max_ms", r.WebhookAnswerMax),
		n("webhook_answers_over_15s", r.WebhookAnswersSlow),
		n("payment_to_paid_invoices", r.PaymentToPaidInvoices),
		ms("payment_to_paid_p50_ms", r.PaymentToPaidP50),
		ms("payment_to_paid_p99_ms", r.PaymentToPaidP99),
		ms("payment_to_paid_max_ms", r.PaymentToPaidMax),
		n("payment_to_paid_calm_invoices", r.PaymentToPaidCalmInvoices),
		ms("payment_to_paid_calm_max_ms", r.PaymentToPaidCalmMax),
		n("hanging_receiver_requests", r.ReceiverRequests),
		n("admin_requests", r.AdminRequests),
		n("admin_refused", r.AdminRefused),
		n("admin_errors", r.AdminErrors),
		n("admin_keyless_unanswered", r.AmbiguousKeyless),
		n("admin_abandoned", r.Abandoned),
		n("replays", r.Replays),
		n("replays_refused", r.ReplaysRefused),
		n("jobs_submitted", r.JobsSubmitted),
		n("jobs_succeeded", r.JobsSucceeded),
		n("jobs_failed", r.JobsFailed),
		n("jobs_unfinished", r.JobsUnfinished),
		n("jobs_doubled", r.JobsDoubled),
		n("jobs_lost", r.JobsLost),
		n("jobs_failed_but_applied", r.JobsFailedApplied),
		n("jobs_unexplained", r.JobsUnexplained),
		n("drift", r.Drift),
		n("drift_found_by_final_run", r.FinalRunDrift),
	}
	total := 0
	for _, f := range AllFaults {
		total += r.Faults[f]
	}
	out = append(out, n("faults_injected", total))
	for _, f := range AllFaults {
		out = append(out, n("faults_injected_"+string(f), r.Faults[f]))
	}
	return append(out,
		n("secrets_in_logs", r.SecretsInLogs),
		n("panics_in_logs", r.PanicsInLogs),
		n("unexpected_exits", r.UnexpectedExits),
		n("unclean_stops", r.UncleanStops),
		figure{"settle_seconds", strconv.FormatFloat(r.SettleSeconds, 'f', 1, 64)},
	)
}

// Print writes the figures, one "name value" line each.
func (r *Report) Print(w io.Writer) {
	for _, f := range r.figures() {
		fmt.Fprintf(w, "%s %s\n", f.name, f.value)
	}
}

// Problems lists what makes the run a failure: anything lost, doubled,
// drifted or leaked, and any promise of the contract broken on the way.
func (r *Report) Problems() []string {
	var out []string
	check := func(bad bool, format string, args ...any) {
		if bad {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	check(r.Unacked > 0, "%d events were never answered 200", r.Unacked)
	check(r.Webhook4xx > 0, "%d signed events were refused with a 4xx", r.Webhook4xx)
	check(r.IgnoredUnacked > 0, "%d events of ignored types were never answered 200", r.IgnoredUnacked)
	check(r.IgnoredWrongStatus > 0, "%d acknowledged events of ignored types not stored as ignored", r.IgnoredWrongStatus)
	check(r.WebhookAnswersSlow > 0, "%d webhook deliveries waited more than %s for an answer (the longest %s)",
		r.WebhookAnswersSlow, answerLimit, r.WebhookAnswerMax.Round(time.Millisecond))
	check(r.Lost > 0, "%d acknowledged events lost", r.Lost)
	check(r.Doubled > 0, "%d effects applied twice", r.Doubled)
	check(r.ReplaysRefused > 0, "%d replays with an Idempotency-Key refused instead of answered with their job", r.ReplaysRefused)
	check(r.JobsUnfinished > 0, "%d accepted jobs never finished", r.JobsUnfinished)
	check(r.JobsDoubled > 0, "%d jobs doubled", r.JobsDoubled)
	check(r.JobsLost > 0, "%d succeeded jobs without their effect", r.JobsLost)
	check(r.JobsFailedApplied > 0, "%d failed jobs changed the ledger", r.JobsFailedApplied)
	check(r.JobsUnexplained > r.AmbiguousKeyless+r.Abandoned,
		"%d ledger changes by jobs nobody was answered for, more than the %d unanswered requests", r.JobsUnexplained, r.AmbiguousKeyless+r.Abandoned)
	check(r.Drift > 0, "%d invoices drifted from invoice_truth", r.Drift)
	check(r.Invoices > 0 && r.ReceiverRequests == 0, "the hanging notification receiver was never called")
	check(r.SecretsInLogs > 0, "%d log lines hold a secret or a request body", r.SecretsInLogs)
	return out
}
