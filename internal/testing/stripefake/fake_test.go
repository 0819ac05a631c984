package stripefake_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/payrecon/reconciler/internal/testing/stripefake"
)

// get asks the fake for path with key and decodes its JSON answer.
func get(t *testing.T, f *stripefake.Fake, key, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s answered %d with no JSON object: %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, body
}

// list asks for a list and returns its items' ids and has_more.
func list(t *testing.T, f *stripefake.Fake, path string) ([]string, bool, []map[string]any) {
	t.Helper()
	status, body := get(t, f, stripefake.APIKey, path)
	if status != http.StatusOK || body["object"] != "list" {
		t.Fatalf("GET %s: %d %v", path, status, body)
	}
	var ids []string
	var objs []map[string]any
	for _, o := range body["data"].([]any) {
		obj := o.(map[string]any)
		ids = append(ids, obj["id"].(string))
		objs = append(objs, obj)
	}
	return ids, body["has_more"].(bool), objs
}

func errorOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok || e["type"] == nil || e["message"] == nil {
		t.Fatalf("answer %v is not a Stripe error", body)
	}
	return e
}

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestPaymentIntentListing(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	// pi_00 is the oldest; pi_20 and pi_21 share a second, and list by id
	// descending, as the fake breaks Stripe's ties.
	for i := range 22 {
		created := base.Add(time.Duration(min(i, 20)) * time.Minute)
		f.AddPaymentIntent(stripefake.PaymentIntent{ID: fmt.Sprintf("pi_%02d", i), Amount: 100, Created: created})
	}

	t.Run("pages are newest first, ten by default, and has_more says when to stop", func(t *testing.T) {
		first, more, _ := list(t, f, "/v1/payment_intents")
		if len(first) != 10 || first[0] != "pi_21" || first[1] != "pi_20" || first[9] != "pi_12" || !more {
			t.Fatalf("first page %v, has_more %v", first, more)
		}
		second, more, _ := list(t, f, "/v1/payment_intents?limit=10&starting_after="+first[9])
		if len(second) != 10 || second[0] != "pi_11" || !more {
			t.Fatalf("second page %v, has_more %v", second, more)
		}
		last, more, _ := list(t, f, "/v1/payment_intents?limit=10&starting_after="+second[9])
		if !slices.Equal(last, []string{"pi_01", "pi_00"}) || more {
			t.Fatalf("last page %v, has_more %v", last, more)
		}
		back, more, _ := list(t, f, "/v1/payment_intents?limit=3&ending_before="+last[0])
		if !slices.Equal(back, []string{"pi_04", "pi_03", "pi_02"}) || !more {
			t.Fatalf("page before %s: %v, has_more %v", last[0], back, more)
		}
	})

	t.Run("created filters bound the listing, inclusive or not", func(t *testing.T) {
		at := func(min int) int64 { return base.Add(time.Duration(min) * time.Minute).Unix() }
		for q, want := range map[string][]string{
			fmt.Sprintf("created[gte]=%d&created[lte]=%d", at(3), at(5)): {"pi_05", "pi_04", "pi_03"},
			fmt.Sprintf("created[gt]=%d&created[lt]=%d", at(3), at(5)):   {"pi_04"},
			fmt.Sprintf("created=%d", at(20)):                            {"pi_21", "pi_20"},
			fmt.Sprintf("created[gte]=%d&limit=1", at(19)):               {"pi_21"},
		} {
			got, _, _ := list(t, f, "/v1/payment_intents?"+q)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", q, got, want)
			}
		}
	})

	t.Run("a bad limit or an unknown cursor is a Stripe error", func(t *testing.T) {
		status, body := get(t, f, stripefake.APIKey, "/v1/payment_intents?limit=101")
		if status != http.StatusBadRequest || errorOf(t, body)["param"] != "limit" {
			t.Fatalf("limit=101: %d %v", status, body)
		}
		status, body = get(t, f, stripefake.APIKey, "/v1/payment_intents?starting_after=pi_nope")
		if e := errorOf(t, body); status != http.StatusBadRequest || e["code"] != "resource_missing" {
			t.Fatalf("unknown cursor: %d %v", status, body)
		}
		status, body = get(t, f, stripefake.APIKey, "/v1/payment_intents?expand[]=data.customer")
		if status != http.StatusBadRequest || !strings.Contains(errorOf(t, body)["message"].(string), "data.customer") {
			t.Fatalf("an expansion the fake does not model: %d %v", status, body)
		}
		status, body = get(t, f, stripefake.APIKey, "/v1/customers")
		if status != http.StatusNotFound {
			t.Fatalf("/v1/customers: %d %v", status, body)
		}
	})
}

func TestPaymentIntentExpansions(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	var refunds []stripefake.Refund
	for range 12 {
		refunds = append(refunds, stripefake.Refund{Amount: 10})
	}
	refunds[0].Status = "failed"
	f.AddPaymentIntent(
		stripefake.PaymentIntent{ID: "pi_refunded", Amount: 5000, Currency: "eur", Created: base,
			Metadata: map[string]string{"invoice_id": "inv_1", "note": "a \"quoted\" <b>ü</b>\n\\"}, Invoice: "in_1",
			Charge: &stripefake.Charge{Refunds: refunds}},
		stripefake.PaymentIntent{ID: "pi_open", Amount: 700, Status: "requires_payment_method", Created: base.Add(-time.Hour)},
	)

	t.Run("latest_charge is an id unless expanded", func(t *testing.T) {
		_, _, objs := list(t, f, "/v1/payment_intents")
		pi := objs[0]
		if pi["latest_charge"] != "ch_refunded" || pi["amount_received"] != 5000.0 || pi["currency"] != "eur" ||
			pi["status"] != "succeeded" || pi["invoice"] != "in_1" || pi["metadata"].(map[string]any)["invoice_id"] != "inv_1" {
			t.Fatalf("payment intent %v", pi)
		}
		if note := pi["metadata"].(map[string]any)["note"]; note != "a \"quoted\" <b>ü</b>\n\\" {
			t.Fatalf("metadata note %q", note)
		}
		// Stripe's example fields the test did not set are still there.
		if pi["object"] != "payment_intent" || pi["payment_method_types"] == nil {
			t.Fatalf("payment intent lost the example's fields: %v", pi)
		}
		if open := objs[1]; open["latest_charge"] != nil || open["amount_received"] != 0.0 {
			t.Fatalf("unpaid payment intent %v", open)
		}
	})

	t.Run("an expanded charge leaves its refunds out unless they are expanded too", func(t *testing.T) {
		_, _, objs := list(t, f, "/v1/payment_intents?expand[]=data.latest_charge")
		ch := objs[0]["latest_charge"].(map[string]any)
		if _, ok := ch["refunds"]; ok {
			t.Fatalf("charge has refunds without asking: %v", ch["refunds"])
		}
		// 11 of 12 refunds succeeded: amount_refunded is derived from them.
		if ch["id"] != "ch_refunded" || ch["amount_refunded"] != 110.0 || ch["payment_intent"] != "pi_refunded" ||
			ch["currency"] != "eur" || ch["refunded"] != false || ch["object"] != "charge" {
			t.Fatalf("charge %v", ch)
		}
	})

	t.Run("expanded refunds show the first ten and has_more", func(t *testing.T) {
		// stripe-go sends indexed arrays: expand[0], expand[1].
		_, _, objs := list(t, f, "/v1/payment_intents?expand[0]=data.latest_charge&expand[1]=data.latest_charge.refunds")
		rl := objs[0]["latest_charge"].(map[string]any)["refunds"].(map[string]any)
		data := rl["data"].([]any)
		first := data[0].(map[string]any)
		if len(data) != 10 || rl["has_more"] != true || first["id"] != "re_refunded_0" || first["status"] != "failed" ||
			first["failure_reason"] == nil || first["charge"] != "ch_refunded" {
			t.Fatalf("refunds %v", rl)
		}
	})
}

func TestDisputeListing(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	f.AddPaymentIntent(stripefake.PaymentIntent{ID: "pi_a", Amount: 900, Created: base, Charge: &stripefake.Charge{}})
	f.AddDispute(
		stripefake.Dispute{ID: "dp_won", Amount: 900, Charge: "ch_a", PaymentIntent: "pi_a", Status: "won", Created: base.Add(time.Hour)},
		stripefake.Dispute{ID: "dp_inquiry", Amount: 50, Charge: "ch_b", Status: "warning_needs_response", Created: base.Add(2 * time.Hour)},
		stripefake.Dispute{ID: "dp_lost", Amount: 70, Charge: "ch_c", PaymentIntent: "pi_c", Status: "lost", Created: base.Add(3 * time.Hour)},
	)

	ids, more, objs := list(t, f, "/v1/disputes")
	if !slices.Equal(ids, []string{"dp_lost", "dp_inquiry", "dp_won"}) || more {
		t.Fatalf("disputes %v, has_more %v", ids, more)
	}
	txns := func(d map[string]any) []float64 {
		var out []float64
		for _, bt := range d["balance_transactions"].([]any) {
			out = append(out, bt.(map[string]any)["amount"].(float64))
		}
		return out
	}
	if got := txns(objs[0]); !slices.Equal(got, []float64{-70}) {
		t.Errorf("lost dispute's balance transactions %v", got)
	}
	if got := txns(objs[1]); len(got) != 0 || objs[1]["payment_intent"] != nil {
		t.Errorf("inquiry %v", objs[1])
	}
	if got := txns(objs[2]); !slices.Equal(got, []float64{-900, 900}) {
		t.Errorf("won dispute's balance transactions %v", got)
	}
	if ids, _, _ := list(t, f, "/v1/disputes?payment_intent=pi_a"); !slices.Equal(ids, []string{"dp_won"}) {
		t.Errorf("payment_intent filter: %v", ids)
	}
	if ids, _, _ := list(t, f, fmt.Sprintf("/v1/disputes?created[gte]=%d&limit=1", base.Add(2*time.Hour).Unix())); !slices.Equal(ids, []string{"dp_lost"}) {
		t.Errorf("created filter with limit 1: %v", ids)
	}
	_, _, pis := list(t, f, "/v1/payment_intents?expand[]=data.latest_charge")
	if pis[0]["latest_charge"].(map[string]any)["disputed"] != true {
		t.Errorf("the disputed charge shows disputed false")
	}
}

func TestEventListing(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)
	event := func(id, typ string, created time.Time, pending int) []byte {
		var ev map[string]any
		if err := json.Unmarshal(stripefake.Example("event"), &ev); err != nil {
			t.Fatal(err)
		}
		ev["id"], ev["type"], ev["created"], ev["pending_webhooks"] = id, typ, created.Unix(), pending
		b, _ := json.MarshalIndent(ev, "", "  ")
		return b
	}
	f.AddEvent(
		event("evt_1", "payment_intent.succeeded", base, 0),
		event("evt_2", "charge.refunded", base.Add(time.Minute), 1),
		event("evt_3", "customer.created", base.Add(2*time.Minute), 1),
		event("evt_4", "charge.dispute.created", base.Add(3*time.Minute), 0),
	)
	for q, want := range map[string][]string{
		"": {"evt_4", "evt_3", "evt_2", "evt_1"},
		"types[0]=payment_intent.succeeded&types[1]=charge.refunded": {"evt_2", "evt_1"},
		"type=charge.*":                                 {"evt_4", "evt_2"},
		"delivery_success=false":                        {"evt_3", "evt_2"},
		"delivery_success=false&limit=1":                {"evt_3"},
		"types[]=charge.refunded&delivery_success=true": nil,
		"limit=2&starting_after=evt_3":                  {"evt_2", "evt_1"},
	} {
		got, _, _ := list(t, f, "/v1/events?"+q)
		if !slices.Equal(got, want) {
			t.Errorf("events?%s: %v, want %v", q, got, want)
		}
	}
	// An event is served as it was added, whatever it holds.
	_, _, objs := list(t, f, "/v1/events?limit=1")
	if objs[0]["object"] != "event" || objs[0]["data"].(map[string]any)["object"] == nil {
		t.Fatalf("event %v", objs[0])
	}
}

func TestAuthFailuresAndRequests(t *testing.T) {
	t.Parallel()
	f := stripefake.New(t)

	status, body := get(t, f, "", "/v1/payment_intents")
	if status != http.StatusUnauthorized || !strings.Contains(errorOf(t, body)["message"].(string), "did not provide an API key") {
		t.Fatalf("no key: %d %v", status, body)
	}
	status, body = get(t, f, "sk_test_someone_elses_key", "/v1/payment_intents")
	msg, _ := errorOf(t, body)["message"].(string)
	if status != http.StatusUnauthorized || !strings.Contains(msg, "Invalid API Key") || strings.Contains(msg, "someone") {
		t.Fatalf("wrong key: %d %v", status, body)
	}

	f.FailRequest(4)
	if status, _ := get(t, f, stripefake.APIKey, "/v1/events"); status != http.StatusOK {
		t.Fatalf("third request: %d", status)
	}
	status, body = get(t, f, stripefake.APIKey, "/v1/events")
	if status != http.StatusInternalServerError || errorOf(t, body)["type"] != "api_error" {
		t.Fatalf("fourth request: %d %v", status, body)
	}
	if status, _ := get(t, f, stripefake.APIKey, "/v1/events?limit=5"); status != http.StatusOK {
		t.Fatalf("fifth request: %d", status)
	}

	reqs := f.Requests()
	var statuses []int
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{401, 401, 200, 500, 200}) || reqs[4].Path != "/v1/events" || reqs[4].Query.Get("limit") != "5" {
		t.Fatalf("requests %+v", reqs)
	}
}
