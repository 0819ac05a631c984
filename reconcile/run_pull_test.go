package reconcile_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/stripe"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

const fakeStripeKey = "sk_test_reconcile"

// fakeEvent is an event the fake Stripe holds.
type fakeEvent struct {
	id        string
	typ       string
	created   int64
	delivered bool // Stripe delivered it to every endpoint
	raw       []byte
}

// fakeStripe serves /v1/events as Stripe does: newest first, pages of at
// most pageMax, honouring limit, starting_after, types, created[gte] and
// delivery_success, for one API key.
type fakeStripe struct {
	pageMax int

	mu       sync.Mutex
	events   []fakeEvent
	requests []url.Values
	auth     []string
}

func (f *fakeStripe) add(events ...fakeEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, events...)
}

// takeRequests returns the queries received since the last call.
func (f *fakeStripe) takeRequests() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.requests
	f.requests = nil
	return out
}

func stripeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": {"type": "invalid_request_error", "message": %q}}`, msg)
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer "+fakeStripeKey {
		stripeError(w, http.StatusUnauthorized, "Invalid API Key provided")
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/v1/events" {
		stripeError(w, http.StatusNotFound, "Unrecognized request URL")
		return
	}
	q := r.URL.Query()
	f.requests = append(f.requests, q)

	limit := 10
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			stripeError(w, http.StatusBadRequest, "Invalid limit")
			return
		}
		limit = n
	}
	limit = min(limit, f.pageMax)
	var types []string
	for k, v := range q {
		if k == "types[]" || strings.HasPrefix(k, "types[") {
			types = append(types, v...)
		}
	}
	var gte int64
	if v := q.Get("created[gte]"); v != "" {
		gte, _ = strconv.ParseInt(v, 10, 64)
	}
	onlyFailed := q.Get("delivery_success") == "false"

	var match []fakeEvent
	for _, e := range f.events {
		if (len(types) == 0 || slices.Contains(types, e.typ)) && e.created >= gte && !(onlyFailed && e.delivered) {
			match = append(match, e)
		}
	}
	slices.SortFunc(match, func(a, b fakeEvent) int { return cmp.Or(cmp.Compare(b.created, a.created), cmp.Compare(b.id, a.id)) })
	start := 0
	if after := q.Get("starting_after"); after != "" {
		i := slices.IndexFunc(match, func(e fakeEvent) bool { return e.id == after })
		if i < 0 {
			stripeError(w, http.StatusBadRequest, "No such event: "+after)
			return
		}
		start = i + 1
	}
	end := min(start+limit, len(match))
	data := make([]json.RawMessage, 0, end-start)
	for _, e := range match[start:end] {
		data = append(data, e.raw)
	}
	body, _ := json.MarshalIndent(map[string]any{
		"object": "list", "url": "/v1/events", "has_more": end < len(match), "data": data,
	}, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// stripeEventJSON builds a real event body from the decoder's fixtures,
// with its own id, created time, PaymentIntent and invoice.
func stripeEventJSON(t *testing.T, fixture, id string, created int64, pi, invoiceID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "stripe", "testdata", fixture))
	noErr(t, err)
	var ev map[string]any
	noErr(t, json.Unmarshal(b, &ev))
	ev["id"], ev["created"] = id, created
	obj := ev["data"].(map[string]any)["object"].(map[string]any)
	switch obj["object"] {
	case "payment_intent":
		obj["id"] = pi
	case "charge":
		obj["payment_intent"] = pi
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		md["invoice_id"] = invoiceID
	}
	out, err := json.MarshalIndent(ev, "", "  ") // Stripe's listing is indented
	noErr(t, err)
	return out
}

func eventSource(t *testing.T, db *pgxpool.Pool, id string) string {
	t.Helper()
	var src string
	noErr(t, db.QueryRow(context.Background(), `SELECT source FROM events WHERE id = $1`, id).Scan(&src))
	return src
}

func TestRunStripePull(t *testing.T) {
	t.Parallel()
	s, db := testenv.Store(t)
	ctx := context.Background()
	inv := sentInvoice(t, s, 2000)

	now := time.Now().Truncate(time.Second)
	at := func(ago time.Duration) int64 { return now.Add(-ago).Unix() }
	fake := &fakeStripe{pageMax: 2}
	ev := func(fixture, id string, ago time.Duration, delivered bool, pi string) fakeEvent {
		var typ struct {
			Type string `json:"type"`
		}
		raw := stripeEventJSON(t, fixture, id, at(ago), pi, inv.ID)
		noErr(t, json.Unmarshal(raw, &typ))
		return fakeEvent{id: id, typ: typ.Type, created: at(ago), delivered: delivered, raw: raw}
	}
	delivered := ev("payment_intent.succeeded.json", "evt_delivered", 10*time.Minute, true, "pi_a")
	fake.add(
		delivered,
		ev("payment_intent.succeeded.json", "evt_missed", 20*time.Minute, true, "pi_b"),
		ev("charge.refunded.json", "evt_failed", 5*time.Minute, false, "pi_b"),
		ev("customer.created.json", "evt_customer", 3*time.Minute, false, ""),
		ev("payment_intent.succeeded.json", "evt_too_old", 40*24*time.Hour, false, "pi_c"),
	)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	// The webhook already brought one of them.
	_, err := s.StoreEvents(ctx, []reconcile.InboxEvent{{ID: delivered.id, Type: delivered.typ,
		Created: time.Unix(delivered.created, 0), Payload: delivered.raw, Source: reconcile.SourceWebhook}})
	noErr(t, err)

	relay := &recordingRelay{store: s}
	runner := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{
		RelayAfter: time.Minute, Stripe: worker.StripeEvents(stripe.NewEventLister(fakeStripeKey, srv.URL))})

	t.Run("a full run stores and queues what the inbox lacks, once", func(t *testing.T) {
		_, steps := runOnce(t, s, runner, true)
		p := steps.StripePull
		if p.Mode != "all" || p.Listed != 3 || p.Stored != 2 || p.Enqueued != 2 || p.Error != "" {
			t.Fatalf("pull step %+v", p)
		}
		if got := relay.takeEnqueued(); !slices.Equal(got, []string{"evt_failed", "evt_missed"}) {
			t.Fatalf("enqueued %v", got)
		}
		if p.Cursor == nil || p.Cursor.Unix() != at(5*time.Minute) {
			t.Fatalf("cursor %v, want the newest listed event's time %v", p.Cursor, time.Unix(at(5*time.Minute), 0))
		}
		for id, want := range map[string]string{"evt_missed": "pull", "evt_failed": "pull", "evt_delivered": "webhook"} {
			if got := eventSource(t, db, id); got != want {
				t.Fatalf("event %s came by %s, want %s", id, got, want)
			}
		}
		// The stored body is Stripe's event, and decodes as the webhook's would.
		e, err := s.GetEvent(ctx, "evt_missed")
		noErr(t, err)
		if e.Status != reconcile.EventReceived {
			t.Fatalf("pulled event is %s, want received", e.Status)
		}
		d, err := stripe.Decode(e.Payload)
		noErr(t, err)
		if d.Kind != stripe.KindPayment || d.Payment.ProviderRef != "pi_b" || d.Payment.InvoiceID != inv.ID ||
			d.Created.Unix() != at(20*time.Minute) {
			t.Fatalf("decoded %+v %+v", d, d.Payment)
		}

		reqs := fake.takeRequests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2 pages of 2: %v", len(reqs), reqs)
		}
		first := reqs[0]
		if first.Get("delivery_success") != "" || first.Get("limit") != "100" || first.Get("starting_after") != "" {
			t.Fatalf("first request %v", first)
		}
		var types []string
		for k, v := range first {
			if strings.HasPrefix(k, "types[") {
				types = append(types, v...)
			}
		}
		if want := slices.Sorted(slices.Values(stripe.HandledTypes())); !slices.Equal(slices.Sorted(slices.Values(types)), want) {
			t.Fatalf("asked for types %v, want %v", types, want)
		}
		gte, _ := strconv.ParseInt(first.Get("created[gte]"), 10, 64)
		if d := time.Since(time.Unix(gte, 0)); d < 30*24*time.Hour-time.Minute || d > 30*24*time.Hour+time.Minute {
			t.Fatalf("first pull asked from %v ago, want Stripe's 30 days", d)
		}
		if reqs[1].Get("starting_after") != "evt_delivered" {
			t.Fatalf("second page starts after %q", reqs[1].Get("starting_after"))
		}
		for _, a := range fake.auth {
			if a != "Bearer "+fakeStripeKey {
				t.Fatalf("request authorised with %q", a)
			}
		}
	})

	t.Run("an incremental run asks only for undelivered events from the cursor, and stores nothing twice", func(t *testing.T) {
		fake.add(
			ev("payment_intent.succeeded.json", "evt_new_failed", 0, false, "pi_d"),
			ev("payment_intent.succeeded.json", "evt_new_delivered", 0, true, "pi_e"),
		)
		_, steps := runOnce(t, s, runner, false)
		p := steps.StripePull
		// evt_failed is listed again (still undelivered) but already stored.
		if p.Mode != "undelivered" || p.Listed != 2 || p.Stored != 1 || p.Enqueued != 1 || p.Cursor.Unix() != now.Unix() {
			t.Fatalf("pull step %+v", p)
		}
		if got := relay.takeEnqueued(); !slices.Equal(got, []string{"evt_new_failed"}) {
			t.Fatalf("enqueued %v", got)
		}
		reqs := fake.takeRequests()
		if reqs[0].Get("delivery_success") != "false" {
			t.Fatalf("incremental pull without delivery_success=false: %v", reqs[0])
		}
		if gte := reqs[0].Get("created[gte]"); gte != strconv.FormatInt(at(5*time.Minute+5*time.Minute), 10) {
			t.Fatalf("created[gte]=%s, want the cursor less 5 minutes", gte)
		}
	})

	t.Run("a pull Stripe refuses fails the run, keeps the cursor, and the ledger is still checked", func(t *testing.T) {
		bad := reconcile.NewRunner(s, relay, reconcile.RunnerConfig{
			RelayAfter: time.Minute, Stripe: worker.StripeEvents(stripe.NewEventLister("sk_test_wrong", srv.URL))})
		id, err := bad.Run(ctx, false)
		if err == nil || !strings.Contains(err.Error(), "Invalid API Key") {
			t.Fatalf("run error %v, want Stripe's refusal", err)
		}
		run, steps := runRecord(t, s, id)
		if run.Status != reconcile.RunFailed || steps.StripePull.Error == "" || steps.Ledger.Scope == "" || run.Watermark == nil {
			t.Fatalf("run %+v, pull %+v, ledger %+v", run, steps.StripePull, steps.Ledger)
		}
		_, steps = runOnce(t, s, runner, false)
		if p := steps.StripePull; p.Since == nil || p.Since.Unix() != now.Add(-pullMarginForTest).Unix() {
			t.Fatalf("pull after a failed one starts at %v, want the cursor less the margin", p.Since)
		}
	})
}

// pullMarginForTest is the margin the pull goes back from its cursor.
const pullMarginForTest = 5 * time.Minute

func TestPullFromStripeMock(t *testing.T) {
	t.Parallel()
	base := testenv.StripeMock(t)
	ctx := context.Background()
	events := stripe.NewEventLister("sk_test_123", base)

	for _, onlyFailed := range []bool{false, true} {
		t.Run(fmt.Sprintf("it lists its example event (only failed: %v)", onlyFailed), func(t *testing.T) {
			var ids []string
			err := events.ListEvents(ctx, time.Now().Add(-30*24*time.Hour), onlyFailed,
				func(e stripe.ListedEvent) error {
					id, typ, created, raw := e.ID, e.Type, e.Created, e.Raw
					var head struct {
						ID     string `json:"id"`
						Object string `json:"object"`
					}
					if err := json.Unmarshal(raw, &head); err != nil || head.ID != id || head.Object != "event" || typ == "" || created.IsZero() {
						t.Errorf("event %s %s %v: %s", id, typ, created, raw)
					}
					ids = append(ids, id)
					return nil
				})
			noErr(t, err)
			if len(ids) != 1 || !strings.HasPrefix(ids[0], "evt_") {
				t.Fatalf("listed %v, want stripe-mock's one example event", ids)
			}
		})
	}

	t.Run("a run pulls from it without error", func(t *testing.T) {
		s, _ := testenv.Store(t)
		runner := reconcile.NewRunner(s, &recordingRelay{store: s}, reconcile.RunnerConfig{RelayAfter: time.Minute, Stripe: worker.StripeEvents(events)})
		_, steps := runOnce(t, s, runner, true)
		// Its example is a plan.created: listed (stripe-mock ignores types), not stored.
		if p := steps.StripePull; p.Listed != 1 || p.Error != "" || p.Stored+p.OtherTypes != 1 {
			t.Fatalf("pull step %+v", p)
		}
	})

	t.Run("a key stripe-mock refuses is an error", func(t *testing.T) {
		err := stripe.NewEventLister("not-a-key", base).ListEvents(ctx, time.Now().Add(-time.Hour), false,
			func(stripe.ListedEvent) error { return nil })
		if err == nil {
			t.Fatal("listing with a bad key succeeded")
		}
	})
}
