package stripefake

import (
	"net/http"
	"slices"
	"strings"
)

// retrieveExpansions are what GET /v1/payment_intents/{id} may expand: a
// listing's, without its "data." prefix.
var retrieveExpansions = []string{"latest_charge", "latest_charge.refunds"}

// retrievePaymentIntent answers GET /v1/payment_intents/{id}: the one
// PaymentIntent as a listing renders it, or Stripe's resource_missing.
func (f *Fake) retrievePaymentIntent(id string, q listQuery) ([]byte, *apiError) {
	if err := checkExpansions(q.expand, retrieveExpansions); err != nil {
		return nil, err
	}
	r, ok := f.payments.byID[id]
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, invalidRequest(http.StatusNotFound, "resource_missing", "intent", "No such payment_intent: '%s'", id)
	}
	expandRefunds := slices.Contains(q.expand, "latest_charge.refunds")
	pr := &paymentRenderer{t: templates(), disputed: f.disputedCharges,
		expandCharge: expandRefunds || slices.Contains(q.expand, "latest_charge"), expandRefunds: expandRefunds}
	b := pageBuffer(1, 8<<10)
	pr.paymentIntent(b, r)
	return b.Bytes(), nil
}
