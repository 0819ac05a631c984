package admin_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/payrecon/reconciler/reconcile"
)

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()

	t.Run("the same key sent ten times at once gets one job and one payment", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-k10", 10000, true)
		jobs := h.jobRows()
		var wg sync.WaitGroup
		answers := make([]response, 10)
		errs := make([]error, 10)
		for i := range answers {
			wg.Go(func() {
				answers[i], errs[i] = h.try("POST", "/admin/invoices/inv-k10/payments", `{"amount": 1500}`,
					append(authed, "Idempotency-Key", "ten-at-once")...)
			})
		}
		wg.Wait()
		ids := map[string]bool{}
		for i, res := range answers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			var job reconcile.Job
			res.must(t, http.StatusAccepted, &job)
			ids[job.ID] = true
		}
		if len(ids) != 1 {
			t.Fatalf("%d job ids: %v", len(ids), ids)
		}
		if n := h.jobRows() - jobs; n != 1 {
			t.Fatalf("%d jobs stored, want 1", n)
		}
		for id := range ids {
			if id != reconcile.JobIDForKey("ten-at-once") {
				t.Fatalf("job id %s is not the key's", id)
			}
			h.waitSucceeded(id)
		}
		d := h.mustFigures("inv-k10", figures{1500, 0, 8500, reconcile.StatePartial})
		if len(d.Payments) != 1 {
			t.Fatalf("%d payments, want 1", len(d.Payments))
		}
	})

	t.Run("a replay after the job ran returns that job, though the payment would now be refused", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-kpaid", 1000, true)
		first := h.queue("POST", "/admin/invoices/inv-kpaid/payments", `{"amount": 1000}`, "Idempotency-Key", "pay-all")
		h.waitSucceeded(first.ID)
		h.mustFigures("inv-kpaid", figures{1000, 0, 0, reconcile.StatePaid})
		h.unchanged("inv-kpaid", func() {
			var again reconcile.Job
			h.do("POST", "/admin/invoices/inv-kpaid/payments", `{"amount": 1000}`, "Idempotency-Key", "pay-all").
				must(t, http.StatusAccepted, &again)
			if again.ID != first.ID || again.Status != reconcile.JobSucceeded {
				t.Fatalf("replay answered %+v, want succeeded job %s", again, first.ID)
			}
		})
	})

	t.Run("a key is looked up before the invoice is checked", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-kwo", 1000, true)
		first := h.queue("POST", "/admin/invoices/inv-kwo/write-off", nil, "Idempotency-Key", "wo-once")
		h.waitSucceeded(first.ID)
		// A new write-off is refused now; the replay is not.
		h.do("POST", "/admin/invoices/inv-kwo/write-off", nil).mustError(t, http.StatusConflict, "already_written_off")
		again := h.queue("POST", "/admin/invoices/inv-kwo/write-off", nil, "Idempotency-Key", "wo-once")
		if again.ID != first.ID {
			t.Fatalf("replay job %s, want %s", again.ID, first.ID)
		}
	})

	t.Run("a key reused for another request is 422 and queues nothing", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-kreuse", 10000, true)
		first := h.queue("POST", "/admin/invoices/inv-kreuse/payments", `{"amount": 100}`, "Idempotency-Key", "reused")
		// The worker runs: the first payment must land before the snapshot.
		h.waitSucceeded(first.ID)
		h.unchanged("inv-kreuse", func() {
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/admin/invoices/inv-kreuse/payments", `{"amount": 200}`},
				{"POST", "/admin/invoices/inv-kreuse/write-off", ``},
				{"POST", "/admin/reconcile?full=true", ``},
			} {
				h.do(c.method, c.path, c.body, "Idempotency-Key", "reused").mustError(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
			}
		})
	})

	t.Run("a key that is not 1 to 255 printable ASCII characters is 400", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-kbad", 10000, true)
		for _, k := range []string{"", strings.Repeat("k", 256), "clé", "a\tb"} {
			h.unchanged("inv-kbad", func() {
				msg := h.do("POST", "/admin/invoices/inv-kbad/payments", `{"amount": 100}`, "Idempotency-Key", k).
					mustError(t, http.StatusBadRequest, "invalid_idempotency_key")
				if !strings.Contains(msg, "Idempotency-Key") {
					t.Fatalf("message %q", msg)
				}
			})
		}
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-kbad/payments", `{"amount": 100}`, "Idempotency-Key", strings.Repeat("k", 255)).ID)
	})

	t.Run("without a key every request is its own job", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-knone", 10000, true)
		a := h.queue("POST", "/admin/invoices/inv-knone/payments", `{"amount": 100}`)
		b := h.queue("POST", "/admin/invoices/inv-knone/payments", `{"amount": 100}`)
		if a.ID == b.ID {
			t.Fatal("two requests without a key share a job")
		}
		h.waitSucceeded(a.ID)
		h.waitSucceeded(b.ID)
		h.mustFigures("inv-knone", figures{200, 0, 9800, reconcile.StatePartial})
	})

	t.Run("a write-off asked twice with two keys writes off once, the second refused at once", func(t *testing.T) {
		h := h.in(t)
		h.createInvoice("inv-wo2", 10000, true)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-wo2/write-off", nil, "Idempotency-Key", "wo2-a").ID)
		h.unchanged("inv-wo2", func() {
			h.do("POST", "/admin/invoices/inv-wo2/write-off", nil, "Idempotency-Key", "wo2-b").
				mustError(t, http.StatusConflict, "already_written_off")
		})
		h.mustFigures("inv-wo2", figures{0, 10000, 0, reconcile.StateWrittenOff})
		h.mustWriteOffs("inv-wo2", 1)
	})
}

func TestWriteOffQueuedTwice(t *testing.T) {
	t.Parallel()
	t.Run("two write-offs queued before either runs write off once; the other job fails with its reason", func(t *testing.T) {
		h := newHarness(t).in(t)
		h.createInvoice("inv-wo3", 10000, true)
		// Both pass the synchronous check: nothing runs until the worker starts.
		a := h.queue("POST", "/admin/invoices/inv-wo3/write-off", `{"notes": "a"}`, "Idempotency-Key", "wo3-a")
		b := h.queue("POST", "/admin/invoices/inv-wo3/write-off", `{"notes": "b"}`, "Idempotency-Key", "wo3-b")
		h.startWorker()
		ja, jb := h.waitJob(a.ID), h.waitJob(b.ID)
		if ja.Status == jb.Status {
			t.Fatalf("jobs ended %s and %s, want one succeeded and one failed", ja.Status, jb.Status)
		}
		failed := ja
		if jb.Status == reconcile.JobFailed {
			failed = jb
		}
		if !strings.Contains(failed.Error, "already_written_off") || failed.Attempts != 1 {
			t.Fatalf("failed job %+v, want one attempt with the reason", failed)
		}
		h.mustFigures("inv-wo3", figures{0, 10000, 0, reconcile.StateWrittenOff})
		h.mustWriteOffs("inv-wo3", 1)
	})
}

// mustWriteOffs fails the test unless the invoice has n write-off rows.
func (h *harness) mustWriteOffs(id string, n int) {
	h.t.Helper()
	var got int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM write_offs WHERE invoice_id = $1`, id).Scan(&got); err != nil {
		h.t.Fatal(err)
	}
	if got != n {
		h.t.Fatalf("invoice %s has %d write-offs, want %d", id, got, n)
	}
}
