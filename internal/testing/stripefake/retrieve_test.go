package stripefake_test

import (
	"net/http"
	"testing"

	"github.com/payrecon/reconciler/internal/testing/stripefake"
)

func TestPaymentIntentRetrieval(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	f.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_one", Amount: 700, Created: base,
		Charge: &stripefake.Charge{Refunds: []stripefake.Refund{{Amount: 200}}}})

	t.Run("one PaymentIntent is the object a listing shows", func(t *testing.T) {
		status, body := get(t, f, stripefake.APIKey, "/v1/payment_intents/pi_one")
		if status != http.StatusOK || body["id"] != "pi_one" || body["object"] != "payment_intent" || body["latest_charge"] != "ch_one" {
			t.Fatalf("%d %v", status, body)
		}
	})
	t.Run("its charge and refunds expand as a listing's do, without data.", func(t *testing.T) {
		_, body := get(t, f, stripefake.APIKey, "/v1/payment_intents/pi_one?expand[]=latest_charge.refunds")
		charge, ok := body["latest_charge"].(map[string]any)
		if !ok || charge["id"] != "ch_one" {
			t.Fatalf("latest_charge %v", body["latest_charge"])
		}
		refunds := charge["refunds"].(map[string]any)["data"].([]any)
		if len(refunds) != 1 || refunds[0].(map[string]any)["amount"] != float64(200) {
			t.Fatalf("refunds %v", refunds)
		}
		status, body := get(t, f, stripefake.APIKey, "/v1/payment_intents/pi_one?expand[]=data.latest_charge")
		if status != http.StatusBadRequest || errorOf(t, body)["param"] != "expand" {
			t.Fatalf("a listing's expansion: %d %v", status, body)
		}
	})
	t.Run("an unknown one is Stripe's resource_missing", func(t *testing.T) {
		status, body := get(t, f, stripefake.APIKey, "/v1/payment_intents/pi_none")
		e := errorOf(t, body)
		if status != http.StatusNotFound || e["code"] != "resource_missing" || e["type"] != "invalid_request_error" {
			t.Fatalf("%d %v", status, body)
		}
	})
}
