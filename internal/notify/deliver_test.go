package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/reconcile"
)

// quick retries: tests wait for the next attempt, they do not time it.
var quick = notify.DelivererConfig{BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// deliverUntilDone attempts a delivery until it is delivered or given up.
func deliverUntilDone(t *testing.T, d *notify.Deliverer, id string) []notify.Result {
	t.Helper()
	var results []notify.Result
	eventually(t, "the delivery to finish", func() bool {
		res, err := d.Deliver(t.Context(), id)
		noErr(t, err)
		if res.Delivered || res.Retry {
			results = append(results, res)
		}
		if res.Retry {
			time.Sleep(time.Until(res.NextAt))
		}
		// A call that schedules no retry has finished the delivery, even
		// when its attempt overran the budget and so reports neither.
		return !res.Retry
	})
	return results
}

func TestDeliver(t *testing.T) {
	t.Run("a payment reaches the receiver with the exact body and a valid signature", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(http.StatusNoContent))
		ep, secret := e.endpoint(t, r.URL)
		r.setSecret(secret)
		inv, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		if !res.Delivered || res.Retry {
			t.Fatalf("Deliver = %+v, want delivered", res)
		}
		reqs := r.got()
		if len(reqs) != 1 || reqs[0].err != nil {
			t.Fatalf("receiver got %d requests (first verified: %v)", len(reqs), reqs[0].err)
		}
		var stored []byte
		noErr(t, e.pool.QueryRow(t.Context(), `SELECT body FROM notifications WHERE id = $1`, d.NotificationID).Scan(&stored))
		if !bytes.Equal(reqs[0].body, stored) {
			t.Fatalf("receiver got %s, want the stored %s", reqs[0].body, stored)
		}
		var body struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				Invoice reconcile.Invoice  `json:"invoice"`
				Payment *reconcile.Payment `json:"payment"`
			} `json:"data"`
		}
		noErr(t, json.Unmarshal(reqs[0].body, &body))
		if body.ID != d.NotificationID || body.Type != "invoice.payment_recorded" || body.Data.Invoice.ID != inv.ID ||
			body.Data.Invoice.PaidAmount != 4000 || body.Data.Payment == nil || body.Data.Payment.Amount != 4000 {
			t.Fatalf("body %s", reqs[0].body)
		}
		h := reqs[0].header
		if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "reconciler-notify/1" {
			t.Fatalf("headers %v", h)
		}
		got := e.onlyDelivery(t, ep.ID)
		if got.Status != notify.StatusDelivered || got.Attempts != 1 || got.LastStatusCode == nil ||
			*got.LastStatusCode != http.StatusNoContent || got.DeliveredAt == nil || got.NextAttemptAt != nil {
			t.Fatalf("delivery %+v", got)
		}

		res, err = e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		if res != (notify.Result{}) || len(r.got()) != 1 {
			t.Fatalf("a delivered notification was sent again: %+v", res)
		}
	})
	t.Run("a receiver failing five times gets the notification once, at the sixth attempt", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, func(n int) int {
			if n <= 5 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		ep, secret := e.endpoint(t, r.URL)
		r.setSecret(secret)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		results := deliverUntilDone(t, e.deliverer(t, quick), d.ID)
		if len(results) != 6 || !results[5].Delivered {
			t.Fatalf("results %+v, want 5 retries then delivered", results)
		}
		got := e.onlyDelivery(t, ep.ID)
		if got.Status != notify.StatusDelivered || got.Attempts != 6 || *got.LastStatusCode != 200 || got.LastError != "" {
			t.Fatalf("delivery %+v", got)
		}
		reqs := r.got()
		if len(reqs) != 6 {
			t.Fatalf("receiver got %d requests, want 6", len(reqs))
		}
		for _, req := range reqs {
			if req.err != nil || !bytes.Equal(req.body, reqs[0].body) {
				t.Fatalf("a retry sent other bytes or a bad signature: %v", req.err)
			}
		}
	})
	t.Run("attempts made at once by duplicate tasks send the notification once", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(http.StatusOK))
		ep, secret := e.endpoint(t, r.URL)
		r.setSecret(secret)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		deliverer := e.deliverer(t, notify.DelivererConfig{})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := deliverer.Deliver(t.Context(), d.ID)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			noErr(t, err)
		}
		if got := e.onlyDelivery(t, ep.ID); len(r.got()) != 1 || got.Attempts != 1 || got.Status != notify.StatusDelivered {
			t.Fatalf("%d requests, delivery %+v", len(r.got()), got)
		}
	})
	t.Run("a failed attempt records its status and waits before the next", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(http.StatusServiceUnavailable))
		ep, secret := e.endpoint(t, r.URL)
		r.setSecret(secret)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		got := e.onlyDelivery(t, ep.ID)
		if !res.Retry || got.Status != notify.StatusPending || got.Attempts != 1 || *got.LastStatusCode != 503 ||
			got.LastError != "HTTP 503 Service Unavailable" || got.NextAttemptAt == nil || !got.NextAttemptAt.After(time.Now()) {
			t.Fatalf("Deliver = %+v, delivery %+v", res, got)
		}
		due, err := e.store.DueDeliveries(t.Context(), 0, 10)
		noErr(t, err)
		if len(due) != 0 {
			t.Fatalf("a delivery waiting for its retry is due: %v", due)
		}
		res, err = e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		if res != (notify.Result{}) || len(r.got()) != 1 {
			t.Fatalf("a delivery not yet due was attempted: %+v", res)
		}
	})
	t.Run("a receiver that never answers 2xx ends failed once the budget is spent", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(http.StatusInternalServerError))
		ep, secret := e.endpoint(t, r.URL)
		r.setSecret(secret)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		cfg := quick
		cfg.Budget = 50 * time.Millisecond
		deliverUntilDone(t, e.deliverer(t, cfg), d.ID)
		got := e.onlyDelivery(t, ep.ID)
		if got.Status != notify.StatusFailed || got.Attempts < 1 || *got.LastStatusCode != 500 || got.NextAttemptAt != nil {
			t.Fatalf("delivery %+v", got)
		}
		if len(r.got()) != got.Attempts {
			t.Fatalf("receiver got %d requests for %d attempts", len(r.got()), got.Attempts)
		}

		t.Run("and a resend sends it again, keeping its attempts", func(t *testing.T) {
			before := got.Attempts
			resent, err := e.store.Resend(t.Context(), d.ID)
			noErr(t, err)
			if resent.Status != notify.StatusPending || resent.Attempts != before {
				t.Fatalf("resent %+v", resent)
			}
			r.setAnswer(always(http.StatusOK))
			res, err := e.deliverer(t, cfg).Deliver(t.Context(), d.ID)
			noErr(t, err)
			if !res.Delivered || e.onlyDelivery(t, ep.ID).Attempts != before+1 {
				t.Fatalf("Deliver = %+v, delivery %+v", res, e.onlyDelivery(t, ep.ID))
			}
		})
	})
	t.Run("a redirect is a failed attempt with the 302 recorded, not followed", func(t *testing.T) {
		e := newEnv(t)
		target := newReceiver(t, always(http.StatusOK))
		redirect, _ := countingServer(t, func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, target.URL, http.StatusFound)
		})
		ep, _ := e.endpoint(t, redirect.URL)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
		noErr(t, err)
		got := e.onlyDelivery(t, ep.ID)
		if !res.Retry || got.LastStatusCode == nil || *got.LastStatusCode != http.StatusFound || len(target.got()) != 0 {
			t.Fatalf("Deliver = %+v, delivery %+v, %d requests at the target", res, got, len(target.got()))
		}
	})
	t.Run("an endpoint on a private address is a failed attempt naming the address", func(t *testing.T) {
		e := newEnv(t)
		r := newReceiver(t, always(http.StatusOK))
		ep, _ := e.endpoint(t, r.URL)
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
		d := e.onlyDelivery(t, ep.ID)

		guarded := notify.NewDeliverer(e.store, notify.NewHTTPClient(false, nil), notify.DelivererConfig{}, zaptest.NewLogger(t))
		res, err := guarded.Deliver(t.Context(), d.ID)
		noErr(t, err)
		got := e.onlyDelivery(t, ep.ID)
		if !res.Retry || got.LastStatusCode != nil || !strings.Contains(got.LastError, "127.0.0.1") || len(r.got()) != 0 {
			t.Fatalf("Deliver = %+v, delivery %+v, %d requests", res, got, len(r.got()))
		}
		if strings.Contains(got.LastError, r.URL) {
			t.Fatalf("the stored error holds the URL: %s", got.LastError)
		}
	})
}

func TestPerEndpointBound(t *testing.T) {
	e := newEnv(t)
	arrived, unblock := make(chan struct{}, 10), make(chan struct{})
	slow, _ := countingServer(t, func(w http.ResponseWriter, req *http.Request) {
		arrived <- struct{}{}
		select {
		case <-unblock:
		case <-req.Context().Done():
		}
	})
	defer close(unblock) // before the servers close: they wait for their handlers
	fast := newReceiver(t, always(http.StatusOK))
	slowEP, _ := e.endpoint(t, slow.URL)
	fastEP, fastSecret := e.endpoint(t, fast.URL)
	fast.setSecret(fastSecret)
	for range 2 {
		_, err := e.recordPayment(t, 4000)
		noErr(t, err)
	}
	slowDs, fastDs := e.deliveries(t, slowEP.ID), e.deliveries(t, fastEP.ID)
	d := e.deliverer(t, notify.DelivererConfig{PerEndpoint: 1})

	first := make(chan error, 1)
	go func() {
		res, err := d.Deliver(context.WithoutCancel(t.Context()), slowDs[0].ID)
		if err == nil && !res.Delivered {
			err = errors.New("the first delivery to the slow endpoint was not delivered")
		}
		first <- err
	}()
	<-arrived

	t.Run("a second delivery to the busy endpoint is handed back, not waited for", func(t *testing.T) {
		res, err := d.Deliver(t.Context(), slowDs[1].ID)
		if !errors.Is(err, notify.ErrEndpointBusy) || !res.Retry || res.NextAt.IsZero() {
			t.Fatalf("Deliver = %+v, %v, want ErrEndpointBusy with a retry", res, err)
		}
		got := e.deliveries(t, slowEP.ID)[0]
		if got.ID != slowDs[1].ID {
			got = e.deliveries(t, slowEP.ID)[1]
		}
		if got.Status != notify.StatusPending || got.Attempts != 0 {
			t.Fatalf("a busy hand-back counted an attempt: %+v", got)
		}
	})
	t.Run("a delivery to another endpoint goes through meanwhile", func(t *testing.T) {
		res, err := d.Deliver(t.Context(), fastDs[0].ID)
		noErr(t, err)
		if !res.Delivered {
			t.Fatalf("Deliver = %+v", res)
		}
	})
	unblock <- struct{}{}
	noErr(t, <-first)
}
