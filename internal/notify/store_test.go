package notify_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/outbox"
	"github.com/payrecon/reconciler/internal/testing/testenv"
)

func TestEndpoints(t *testing.T) {
	t.Run("creating an endpoint shows its secret once, and the list never", func(t *testing.T) {
		e := newEnv(t)
		ep, secret := e.endpoint(t, "https://hooks.example.com/reconciler")
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < len("whsec_")+40 {
			t.Fatalf("secret %q is not a whsec_ secret of 32 random bytes", secret)
		}
		_, second := e.endpoint(t, "https://hooks.example.com/reconciler")
		if second == secret {
			t.Fatal("two endpoints got the same secret")
		}
		eps, err := e.store.ListEndpoints(t.Context())
		noErr(t, err)
		if len(eps) != 2 || eps[0].ID != ep.ID || eps[0].URL != ep.URL || eps[0].Description != "test receiver" {
			t.Fatalf("listed %+v, want %+v first of two", eps, ep)
		}
		raw, err := json.Marshal(eps)
		noErr(t, err)
		if strings.Contains(string(raw), secret) || strings.Contains(string(raw), "secret") {
			t.Fatalf("the list shows a secret: %s", raw)
		}
		var fields []map[string]any
		noErr(t, json.Unmarshal(raw, &fields))
		for _, k := range []string{"id", "url", "events", "description", "created_at"} {
			if _, ok := fields[0][k]; !ok {
				t.Errorf("listed endpoint has no %q: %s", k, raw)
			}
		}
	})
	t.Run("an endpoint subscribed to nothing in particular lists every type", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "http://hooks.example.com/")
		if len(ep.Events) != len(outbox.Types()) {
			t.Fatalf("events %v, want every type", ep.Events)
		}
	})
	t.Run("an endpoint lists the types it subscribed to, each once", func(t *testing.T) {
		e := newEnv(t)
		e.endpoint(t, "http://hooks.example.com/", "invoice.paid", "invoice.refunded", "invoice.paid")
		eps, err := e.store.ListEndpoints(t.Context())
		noErr(t, err)
		if !slices.Equal(eps[0].Events, []string{"invoice.paid", "invoice.refunded"}) {
			t.Fatalf("events %v", eps[0].Events)
		}
	})

	badURLs := map[string]string{
		"an empty url":                  "",
		"a relative url":                "/hooks",
		"an ftp url":                    "ftp://hooks.example.com/",
		"a url without a host":          "http:///hooks",
		"a url with only a scheme":      "https://",
		"an opaque url":                 "http:hooks.example.com",
		"a url with credentials":        "https://user:pw@hooks.example.com/",
		"a url with a bad port":         "https://hooks.example.com:99999/",
		"a url with a space in":         "https://hooks example.com/",
		"a url over 2048 characters":    "https://hooks.example.com/" + strings.Repeat("a", 2048),
		"a url with a control char":     "https://hooks.example.com/\x7f",
		"a javascript url":              "javascript:alert(1)",
		"a url that is only a host":     "hooks.example.com",
		"a url with an empty host:port": "http://:80/",
	}
	for name, u := range badURLs {
		t.Run(name+" is refused as invalid", func(t *testing.T) {
			e := newEnv(t)
			_, _, err := e.store.CreateEndpoint(t.Context(), u, nil, "")
			testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_url")
		})
	}
	t.Run("an upper-case scheme is stored in lower case", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "HTTPS://hooks.example.com/x")
		if ep.URL != "https://hooks.example.com/x" {
			t.Fatalf("stored %q", ep.URL)
		}
	})
	t.Run("an unknown event type is refused as invalid", func(t *testing.T) {
		e := newEnv(t)
		_, _, err := e.store.CreateEndpoint(t.Context(), "https://hooks.example.com/", []string{"invoice.paid", "invoice.eaten"}, "")
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_events")
	})
	t.Run("a description over 500 characters is refused as invalid", func(t *testing.T) {
		e := newEnv(t)
		_, _, err := e.store.CreateEndpoint(t.Context(), "https://hooks.example.com/", nil, strings.Repeat("é", 501))
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_description")
	})
	t.Run("deleting an endpoint fails its pending deliveries, which are never sent", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(200))
		ep, secret := e.endpoint(t, r.URL)
		r.setSecret(secret)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)
		noErr(t, e.store.DeleteEndpoint(t.Context(), ep.ID))

		got := e.onlyDelivery(t, ep.ID)
		if got.Status != notify.StatusFailed || got.LastError != "endpoint deleted" || got.Attempts != 0 {
			t.Fatalf("after deletion: %+v", got)
		}
		res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		if res != (notify.Result{}) || len(r.got()) != 0 {
			t.Fatalf("Deliver = %+v with %d requests, want nothing sent", res, len(r.got()))
		}
		eps, err := e.store.ListEndpoints(t.Context())
		noErr(t, err)
		if len(eps) != 0 {
			t.Fatalf("a deleted endpoint is listed: %+v", eps)
		}
		_, err = e.store.Resend(t.Context(), d.ID)
		testenv.WantLedgerError(t, err, apperr.KindConflict, "endpoint_deleted")
	})
	t.Run("a deleted endpoint gets no new deliveries", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		noErr(t, e.store.DeleteEndpoint(t.Context(), ep.ID))
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		if ds := e.deliveries(t, ep.ID); len(ds) != 0 {
			t.Fatalf("deliveries %+v", ds)
		}
	})
	t.Run("a delivery committed as its endpoint was deleted fails at its attempt, unsent", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(200))
		ep, _ := e.endpoint(t, r.URL)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		// What a ledger transaction racing DeleteEndpoint leaves behind.
		_, err = e.pool.Exec(t.Context(), `UPDATE endpoints SET deleted_at = now() WHERE id = $1`, ep.ID)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)
		res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		got := e.onlyDelivery(t, ep.ID)
		if res != (notify.Result{}) || len(r.got()) != 0 || got.Status != notify.StatusFailed || got.LastError != "endpoint deleted" {
			t.Fatalf("Deliver = %+v, %d requests, delivery %+v", res, len(r.got()), got)
		}
	})
	t.Run("deleting an unknown or deleted endpoint is not found", func(t *testing.T) {
		e := newEnv(t)
		testenv.WantLedgerError(t, e.store.DeleteEndpoint(t.Context(), "ep_nope"), apperr.KindNotFound, "endpoint_not_found")
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		noErr(t, e.store.DeleteEndpoint(t.Context(), ep.ID))
		testenv.WantLedgerError(t, e.store.DeleteEndpoint(t.Context(), ep.ID), apperr.KindNotFound, "endpoint_not_found")
	})
}

func TestDeliveryRecords(t *testing.T) {
	t.Run("a ledger change writes one pending delivery per subscribed endpoint", func(t *testing.T) {
		e := newEnv(t)
		all, _ := e.endpoint(t, "https://a.example.com/")
		recorded, _ := e.endpoint(t, "https://b.example.com/", "invoice.payment_recorded")
		paidOnly, _ := e.endpoint(t, "https://c.example.com/", "invoice.paid")
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		for _, ep := range []notify.Endpoint{all, recorded} {
			d := e.onlyDelivery(t, ep.ID)
			if d.Status != notify.StatusPending || d.Type != outbox.PaymentRecorded || d.Attempts != 0 ||
				d.NextAttemptAt == nil || d.LastStatusCode != nil || d.DeliveredAt != nil {
				t.Fatalf("delivery %+v", d)
			}
		}
		if ds := e.deliveries(t, paidOnly.ID); len(ds) != 0 {
			t.Fatalf("an invoice.paid subscriber got %+v", ds)
		}
		due, err := e.store.DueDeliveries(t.Context(), 0, 10)
		noErr(t, err)
		if len(due) != 2 {
			t.Fatalf("due %v, want 2", due)
		}
	})
	t.Run("a ledger change that rolls back writes no notification", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		_, err := e.recordPayment(t, 20000) // more than the invoice's 10000
		if _, refused := apperr.As(err); !refused {
			t.Fatalf("an overpayment was not refused: %v", err)
		}
		var notifications, deliveries int
		noErr(t, e.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM deliveries)`).
			Scan(&notifications, &deliveries))
		if notifications != 0 || deliveries != 0 || len(e.deliveries(t, ep.ID)) != 0 {
			t.Fatalf("%d notifications and %d deliveries after a rolled-back change", notifications, deliveries)
		}
	})
	t.Run("listing with an unknown status is refused as invalid", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		_, err := e.store.ListDeliveries(t.Context(), ep.ID, "lost", 10)
		testenv.WantLedgerError(t, err, apperr.KindInvalid, "invalid_status")
	})
	t.Run("listing the deliveries of an unknown endpoint is not found", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.store.ListDeliveries(t.Context(), "ep_nope", "", 10)
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "endpoint_not_found")
	})
	t.Run("listing by status shows only that status, newest first", func(t *testing.T) {
		e := newEnv(t)
		ep, _ := e.endpoint(t, "https://hooks.example.com/")
		for range 3 {
			_, err := e.recordPayment(t, 4000)
			noErr(t, err)
		}
		all := e.deliveries(t, ep.ID)
		if len(all) != 3 || all[0].CreatedAt.Before(all[1].CreatedAt) || all[1].CreatedAt.Before(all[2].CreatedAt) {
			t.Fatalf("deliveries not newest first: %+v", all)
		}
		pending, err := e.store.ListDeliveries(t.Context(), ep.ID, "pending", 2)
		noErr(t, err)
		delivered, err := e.store.ListDeliveries(t.Context(), ep.ID, "delivered", 10)
		noErr(t, err)
		if len(pending) != 2 || len(delivered) != 0 {
			t.Fatalf("%d pending (limit 2), %d delivered", len(pending), len(delivered))
		}
	})
	t.Run("resending an unknown delivery is not found", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.store.Resend(t.Context(), "dlv_nope")
		testenv.WantLedgerError(t, err, apperr.KindNotFound, "delivery_not_found")
	})
}
