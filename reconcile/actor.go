package reconcile

import "github.com/payrecon/reconciler/internal/apperr"

// The actors that are not operators. Every change names its actor in its
// history row: an operator's name for the admin API and the console (the
// bootstrap admin is "admin"), ActorStripe for Stripe's events,
// ActorReconciler for a reconciliation run.
const (
	ActorStripe     = "stripe"
	ActorReconciler = "reconciler"
)

// Op is an operator's change as the ledger takes it: who asks, and, for a
// change that must happen once however often it is asked (a job run twice),
// the key that makes it idempotent. The key of a queued change is its job's
// id; a change that is idempotent by nature (sending an invoice) has none.
type Op struct {
	Key   string
	Actor string
}

// validActor refuses a change that names nobody: every history row says who.
func validActor(actor string) error {
	if actor == "" || len(actor) > 200 {
		return apperr.Errorf(apperr.KindInvalid, "invalid_actor", "a change must name its actor (1 to 200 characters)")
	}
	return nil
}
