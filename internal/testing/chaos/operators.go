package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// retryFor is how long an operator keeps retrying a request with an
// Idempotency-Key that got no answer (an outage) before giving up on it.
const retryFor = 60 * time.Second

// jobRec is a job an operator was answered 202 for.
type jobRec struct {
	id      string
	typ     string // the request: record, delete, write_off, reopen
	invoice string
	payment string // the payment a delete names
	key     string // "" without Idempotency-Key
	tag     string // unique to the request, in its notes
}

// invoiceDetail is what the operators read of GET /admin/invoices/{id}.
type invoiceDetail struct {
	State      string `json:"state"`
	Amount     int64  `json:"amount"`
	PaidAmount int64  `json:"paid_amount"`
	Balance    int64  `json:"balance"`
	Payments   []struct {
		ID     string `json:"id"`
		Source string `json:"source"`
	} `json:"payments"`
}

// admin sends one request to the admin API of one of the web processes.
func (d *driver) admin(ctx context.Context, method, path, key string, body []byte) (int, []byte, error) {
	base := d.c.webURL[rand.IntN(len(d.c.webURL))]
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// adminOK sends a request until it is answered one of want, for at most
// limit; it returns the last answer.
func (d *driver) adminOK(ctx context.Context, limit time.Duration, method, path string, body []byte, want ...int) (int, []byte, error) {
	deadline := time.Now().Add(limit)
	for {
		status, b, err := d.admin(ctx, method, path, "", body)
		for _, w := range want {
			if err == nil && status == w {
				return status, b, nil
			}
		}
		if err == nil && status < 500 {
			return status, b, fmt.Errorf("%s %s answered %d: %s", method, path, status, bytes.TrimSpace(b))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("%s %s answered %d: %s", method, path, status, bytes.TrimSpace(b))
			}
			return status, b, err
		}
		sleep(ctx, 200*time.Millisecond+time.Duration(rand.IntN(300))*time.Millisecond)
	}
}

// operate acts as one operator until load ends; hard bounds the retries of
// a request already begun.
func (d *driver) operate(load, hard context.Context) {
	for load.Err() == nil {
		sleep(load, d.cfg.OperatorEvery/2+time.Duration(rand.Int64N(int64(d.cfg.OperatorEvery))))
		if load.Err() != nil {
			return
		}
		d.operateOnce(load, hard)
	}
}

func (d *driver) operateOnce(load, hard context.Context) {
	d.mu.Lock()
	if len(d.invoices) == 0 {
		d.mu.Unlock()
		return
	}
	// Half the time one of the newest invoices, whose webhooks are still
	// arriving: operators' jobs and online payments then meet on one row.
	n := len(d.invoices)
	i := rand.IntN(n)
	if rand.IntN(2) == 0 {
		i = n - 1 - rand.IntN(min(n, 20))
	}
	inv := d.invoices[i]
	d.mu.Unlock()
	status, b, err := d.admin(load, http.MethodGet, "/admin/invoices/"+inv, "", nil)
	if err != nil || status != http.StatusOK {
		return // an outage: try something else later
	}
	var det invoiceDetail
	if err := json.Unmarshal(b, &det); err != nil {
		d.evidence("invoice %s: unreadable detail: %v", inv, err)
		return
	}
	unpaid := det.Amount - det.PaidAmount
	var manual []string
	for _, p := range det.Payments {
		if p.Source == "manual" {
			manual = append(manual, p.ID)
		}
	}
	keyed := rand.IntN(10) < 7
	r := rand.IntN(10)
	switch {
	case det.State == "written_off" && r < 5:
		d.submit(hard, "reopen", http.MethodPost, "/admin/invoices/"+inv+"/reopen", inv, "", keyed, nil)
	case det.State == "written_off" && r < 6 && len(manual) > 0: // refused: reopen first
		d.submit(hard, "delete", http.MethodDelete, "/admin/invoices/"+inv+"/payments/"+manual[0], inv, manual[0], keyed, nil)
	case r < 4 && unpaid > 0:
		d.recordPayment(hard, inv, 1+rand.Int64N(unpaid), keyed)
	case r == 4 && unpaid > 0:
		// Two operators record the whole unpaid amount at once: both are
		// accepted, and the second to run is refused under the row lock.
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { d.recordPayment(hard, inv, unpaid, rand.IntN(2) == 0) })
		}
		wg.Wait()
	case r < 7 && len(manual) > 0:
		p := manual[rand.IntN(len(manual))]
		d.submit(hard, "delete", http.MethodDelete, "/admin/invoices/"+inv+"/payments/"+p, inv, p, keyed, nil)
	case r < 9 && det.Balance > 0 && det.State != "written_off":
		d.submit(hard, "write_off", http.MethodPost, "/admin/invoices/"+inv+"/write-off", inv, "", keyed,
			func(tag string) any { return map[string]any{"notes": "bad debt, " + tag} })
	default: // an overpayment, refused with 422
		d.recordPayment(hard, inv, max(unpaid, 0)+1+rand.Int64N(1000), keyed)
	}
}

// recordPayment asks for a manual payment whose notes carry the canary.
func (d *driver) recordPayment(ctx context.Context, inv string, amount int64, keyed bool) {
	methods := []string{"bank_transfer", "check", "cash", "other"}
	d.submit(ctx, "record", http.MethodPost, "/admin/invoices/"+inv+"/payments", inv, "", keyed, func(tag string) any {
		return map[string]any{"amount": amount, "method": methods[rand.IntN(len(methods))],
			"notes": "cheque received, " + d.canary + " " + tag}
	})
}

// submit sends one job request. With an Idempotency-Key, a request that got
// no answer (an error, a 5xx) is sent again with the same key and body
// until it is answered; some answered ones are replayed too, and must get
// the same job. Without a key a request is sent once: a retry would be
// another request.
func (d *driver) submit(ctx context.Context, typ, method, path, inv, payment string, keyed bool, body func(tag string) any) {
	tag := fmt.Sprintf("op%s-%d", d.run, d.seq.Add(1))
	key := ""
	if keyed {
		key = "chaos-" + tag
	}
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body(tag)); err != nil {
			panic(err)
		}
	}
	d.stats.adminRequests.Add(1)
	deadline := time.Now().Add(retryFor)
	for {
		status, b, err := d.admin(ctx, method, path, key, raw)
		switch {
		case err == nil && status == http.StatusAccepted:
			id := d.accepted(typ, inv, payment, key, tag, b)
			if id != "" && key != "" && rand.IntN(5) == 0 {
				d.replay(ctx, method, path, key, raw, id)
			}
			return
		case err == nil && status < 500:
			d.stats.adminRefused.Add(1)
			return
		}
		d.stats.adminErrors.Add(1)
		if key == "" {
			d.stats.ambiguousKeyless.Add(1) // may or may not have been queued
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.stats.abandoned.Add(1)
			d.evidence("gave up on %s %s (key %s) after %s: %d %v", method, path, key, retryFor, status, err)
			return
		}
		sleep(ctx, 200*time.Millisecond+time.Duration(rand.IntN(400))*time.Millisecond)
	}
}

// accepted records the job of a 202 and returns its id.
func (d *driver) accepted(typ, inv, payment, key, tag string, body []byte) string {
	var job struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &job); err != nil || job.ID == "" {
		d.evidence("202 without a job: %s", bytes.TrimSpace(body))
		return ""
	}
	d.stats.adminAccepted.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	if key != "" {
		if first, ok := d.keys[key]; ok && first != job.ID {
			d.stats.replayMismatch.Add(1)
			d.evidenceLocked("key %s answered job %s, then job %s", key, first, job.ID)
		}
		d.keys[key] = job.ID
	}
	if _, ok := d.jobs[job.ID]; !ok {
		d.jobs[job.ID] = &jobRec{id: job.ID, typ: typ, invoice: inv, payment: payment, key: key, tag: tag}
	}
	return job.ID
}

// replay sends an answered request again, as a client that lost the answer
// would: the contract says the same key returns the same job, whatever the
// invoice has become.
func (d *driver) replay(ctx context.Context, method, path, key string, raw []byte, want string) {
	d.stats.replays.Add(1)
	deadline := time.Now().Add(retryFor)
	for {
		status, b, err := d.admin(ctx, method, path, key, raw)
		if err == nil && status == http.StatusAccepted {
			var job struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(b, &job) != nil || job.ID != want {
				d.stats.replayMismatch.Add(1)
				d.evidence("replay of key %s answered %s, want job %s", key, bytes.TrimSpace(b), want)
			}
			return
		}
		if err == nil && status < 500 {
			d.stats.replayRefused.Add(1)
			d.evidence("replay of key %s (job %s) refused %d: %s", key, want, status, bytes.TrimSpace(b))
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		sleep(ctx, 300*time.Millisecond)
	}
}
