package notify_test

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/reconcile"
)

// TestStandardWebhooks delivers real notifications to a receiver that
// verifies them with the Standard Webhooks reference library, as a
// business's system would, not with our own signer.
func TestStandardWebhooks(t *testing.T) {
	e := newEnv(t)
	r := newReceiver(t, always(http.StatusNoContent))
	ep, secret := e.endpoint(t, r.URL)
	r.setSecret(secret)
	inv, err := e.recordPayment(t, 4000)
	noErr(t, err)
	deliver := func(t *testing.T) {
		t.Helper()
		for _, d := range e.deliveries(t, ep.ID) {
			if d.Status == notify.StatusPending {
				res, err := e.deliverer(t, notify.DelivererConfig{}).Deliver(t.Context(), d.ID)
				noErr(t, err)
				if !res.Delivered {
					t.Fatalf("delivery %s: %+v", d.ID, res)
				}
			}
		}
	}
	deliver(t)

	t.Run("the secret is whsec_ and the base64 of a 256-bit key, as the standard expects", func(t *testing.T) {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) != 32 {
			t.Fatalf("secret %q: %d bytes, %v", secret, len(key), err)
		}
	})

	t.Run("the standard's library verifies the notification, whose webhook-id is its id", func(t *testing.T) {
		wh, err := standardwebhooks.NewWebhook(secret)
		noErr(t, err)
		reqs := r.got()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		if err := wh.Verify(reqs[0].body, reqs[0].header); err != nil {
			t.Fatalf("the Standard Webhooks library refuses the notification: %v", err)
		}
		if reqs[0].err != nil {
			t.Fatalf("Reconciler-Signature does not verify beside it: %v", reqs[0].err)
		}
		var body struct{ ID string }
		noErr(t, json.Unmarshal(reqs[0].body, &body))
		if got := reqs[0].header.Get("webhook-id"); got != body.ID {
			t.Fatalf("webhook-id %q, body id %q", got, body.ID)
		}
	})

	t.Run("the library refuses a changed body, another secret and a stale timestamp", func(t *testing.T) {
		req := r.got()[0]
		wh, err := standardwebhooks.NewWebhook(secret)
		noErr(t, err)
		if wh.Verify(append([]byte(" "), req.body...), req.header) == nil {
			t.Fatal("a changed body verifies")
		}
		other, err := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
		noErr(t, err)
		if other.Verify(req.body, req.header) == nil {
			t.Fatal("another secret verifies")
		}
		stale := req.header.Clone()
		noErr(t, notify.SignStandard(stale, req.header.Get("webhook-id"), req.body, secret, time.Now().Add(-time.Hour)))
		if wh.Verify(req.body, stale) == nil {
			t.Fatal("an hour-old signature verifies")
		}
	})

	t.Run("every body carries a sequence that increases with the invoice's changes", func(t *testing.T) {
		ctx := t.Context()
		_, pay, err := e.ledger.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: ids.New("key"),
			InvoiceID: inv.ID, Amount: 6000, PaidDate: reconcile.DateOf(time.Now())})
		noErr(t, err)
		_, err = e.ledger.DeletePayment(ctx, reconcile.Op{Key: ids.New("key"), Actor: "tester"}, inv.ID, pay.ID)
		noErr(t, err)
		deliver(t)
		type numbered struct {
			Type     string `json:"type"`
			Sequence int64  `json:"sequence"`
		}
		var bodies []numbered
		rows, err := e.pool.Query(ctx, `SELECT body FROM notifications WHERE invoice_id = $1`, inv.ID)
		noErr(t, err)
		for rows.Next() {
			var raw []byte
			noErr(t, rows.Scan(&raw))
			var b numbered
			noErr(t, json.Unmarshal(raw, &b))
			bodies = append(bodies, b)
		}
		noErr(t, rows.Err())
		// In sequence order they must be the changes in the order made.
		slices.SortFunc(bodies, func(a, b numbered) int { return cmp.Compare(a.Sequence, b.Sequence) })
		var types []string
		var seqs []int64
		for _, b := range bodies {
			types, seqs = append(types, b.Type), append(seqs, b.Sequence)
		}
		want := []string{"invoice.payment_recorded", "invoice.payment_recorded", "invoice.paid", "invoice.payment_deleted"}
		if !slices.Equal(types, want) {
			t.Fatalf("notifications in sequence order %v, want %v", types, want)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] || seqs[0] <= 0 {
				t.Fatalf("sequences %v do not increase", seqs)
			}
		}
		// Each was delivered, signed for the standard.
		wh, err := standardwebhooks.NewWebhook(secret)
		noErr(t, err)
		for _, req := range r.got() {
			if err := wh.Verify(req.body, req.header); err != nil {
				t.Fatalf("a delivery does not verify: %v", err)
			}
		}
		if len(r.got()) != 4 {
			t.Fatalf("%d deliveries, want 4", len(r.got()))
		}
	})
}

func TestSignStandardWithAnOlderSecret(t *testing.T) {
	t.Run("a secret made before the standard (unpadded base64url) still signs, with the key it holds", func(t *testing.T) {
		key := make([]byte, 32)
		key[0] = 0xfb // encodes with '-' or '_' in base64url
		old := "whsec_" + base64.RawURLEncoding.EncodeToString(key)
		h := http.Header{}
		noErr(t, notify.SignStandard(h, "ntf_1", []byte(`{}`), old, time.Now()))
		wh, err := standardwebhooks.NewWebhookRaw(key)
		noErr(t, err)
		if err := wh.Verify([]byte(`{}`), h); err != nil {
			t.Fatalf("verify with the old secret's key: %v", err)
		}
	})
}
