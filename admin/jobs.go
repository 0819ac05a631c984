package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// maxKeyLength bounds an Idempotency-Key.
const maxKeyLength = 255

// prepareFunc validates a job-queueing request from its raw body and makes
// the synchronous checks against the ledger as it stands, returning the job
// to queue.
type prepareFunc func(ctx context.Context, body []byte) (reconcile.NewJob, error)

// queueJob runs a JSON write that queues a job: it reads the
// Idempotency-Key and the body, and hands them to submit, with the invoice
// the request concerns (empty when it names none in its path).
func (a *API) queueJob(w http.ResponseWriter, r *http.Request, invoiceID string, prepare prepareFunc) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	job, err := a.submit(r.Context(), key, requestHash(r, body), invoiceID, func(ctx context.Context) (reconcile.NewJob, error) {
		return prepare(ctx, body)
	})
	if err != nil {
		return err
	}
	a.writeJob(w, job)
	return nil
}

// submit is the one path of every write that queues a job, from the JSON
// API and from the operator console alike. The idempotency key is looked up
// before anything else, so a replay gets its first job whatever the invoice
// has become since (a replay of a payment that made the invoice paid must
// not be refused as an overpayment). A new request is checked by prepare and
// then stored and queued; concurrent requests with one key meet in the jobs
// table's unique key, so they too get one job. invoiceID, when not empty,
// is the invoice prepare reads (with API.invoice): it is read in the key
// lookup's round trip.
func (a *API) submit(ctx context.Context, key, hash, invoiceID string,
	prepare func(context.Context) (reconcile.NewJob, error)) (reconcile.Job, error) {
	// Every job changes something: at least an operator's. The routes that
	// need more (a reconciliation run) are guarded by their pattern.
	p, err := require(ctx, operators.RoleOperator, "queue a change")
	if err != nil {
		return reconcile.Job{}, err
	}
	if key != "" {
		if err := checkKey(key); err != nil {
			return reconcile.Job{}, err
		}
		job, found, read, err := a.lookupKey(ctx, key, hash, invoiceID)
		if err != nil {
			return reconcile.Job{}, err
		}
		if found {
			return job, nil
		}
		if invoiceID != "" {
			ctx = context.WithValue(ctx, invoiceReadKey{}, invoiceRead{id: invoiceID, InvoiceRead: read})
		}
	}
	n, err := prepare(ctx)
	if err != nil {
		if _, refused := apperr.As(err); refused && key != "" {
			// A request with the same key may have been queued, and its job
			// run, between the lookup and the check: the replay still gets
			// that job, not a refusal caused by it.
			if job, found, lookupErr := a.store.LookupJobByKey(ctx, key, hash); lookupErr == nil && found {
				return job, nil
			}
		}
		return reconcile.Job{}, err
	}
	n.IdempotencyKey, n.RequestHash, n.Actor = key, hash, p.Name
	return a.jobs.Submit(ctx, n)
}

// lookupKey looks up an idempotency key, and reads invoice invoiceID (when
// not empty) in the same round trip.
func (a *API) lookupKey(ctx context.Context, key, hash, invoiceID string) (reconcile.Job, bool, reconcile.InvoiceRead, error) {
	if a.keys != nil {
		return a.keys.LookupKey(ctx, key, hash, invoiceID)
	}
	if invoiceID == "" {
		job, found, err := a.store.LookupJobByKey(ctx, key, hash)
		return job, found, reconcile.InvoiceRead{}, err
	}
	return a.store.LookupJobByKeyReading(ctx, key, hash, invoiceID)
}

// invoiceReadKey is the context key of the invoice submit read with the
// request's key lookup.
type invoiceReadKey struct{}

// invoiceRead is an invoice submit read ahead, and its id.
type invoiceRead struct {
	id string
	reconcile.InvoiceRead
}

// invoice reads invoice id for a request's checks, or takes the read
// submit made of it with the request's key lookup.
func (a *API) invoice(ctx context.Context, id string) (reconcile.Invoice, error) {
	if r, ok := ctx.Value(invoiceReadKey{}).(invoiceRead); ok && r.id == id {
		return r.Invoice, r.Err
	}
	return a.store.GetInvoice(ctx, id)
}

func (a *API) writeJob(w http.ResponseWriter, job reconcile.Job) {
	w.Header().Set("Location", "/admin/jobs/"+job.ID)
	a.WriteJSON(w, http.StatusAccepted, job)
}

// idempotencyKey reads the optional Idempotency-Key header: absent is "",
// present it must be 1 to 255 printable ASCII characters.
func idempotencyKey(r *http.Request) (string, error) {
	values, present := r.Header["Idempotency-Key"]
	if !present {
		return "", nil
	}
	if len(values) != 1 {
		return "", errBadKey()
	}
	if err := checkKey(values[0]); err != nil {
		return "", err
	}
	return values[0], nil
}

func errBadKey() error {
	return invalid("invalid_idempotency_key", "Idempotency-Key must be one value of 1 to 255 printable ASCII characters")
}

// checkKey refuses an idempotency key that is empty, longer than 255
// characters or not printable ASCII.
func checkKey(key string) error {
	if len(key) == 0 || len(key) > maxKeyLength {
		return errBadKey()
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return errBadKey()
		}
	}
	return nil
}

// requestHash identifies a request, so a key reused for another request is
// told from a replay. The query is part of it: for POST /admin/reconcile it
// is the only argument.
func requestHash(r *http.Request, body []byte) string {
	target := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + target + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// getJob answers GET /admin/jobs/{id}. Job status lives in PostgreSQL, so
// it outlives Redis.
func (a *API) getJob(w http.ResponseWriter, r *http.Request) error {
	job, err := a.store.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, job)
	return nil
}

// listJobs answers GET /admin/jobs?status=&type=&invoice_id=&limit=&cursor=:
// operators' jobs, newest first, a page at a time.
func (a *API) listJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"), 0, reconcile.MaxPageSize) // 0: the store's default
	if err != nil {
		return err
	}
	page, err := a.store.ListJobs(r.Context(), reconcile.JobFilter{
		Status: reconcile.JobStatus(q.Get("status")), Type: reconcile.JobType(q.Get("type")),
		InvoiceID: q.Get("invoice_id"), Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	a.WriteJSON(w, http.StatusOK, page)
	return nil
}

// reconcile answers POST /admin/reconcile?full=: a reconciliation run now.
func (a *API) reconcile(w http.ResponseWriter, r *http.Request) error {
	return a.queueJob(w, r, "", func(_ context.Context, body []byte) (reconcile.NewJob, error) {
		if err := decodeStrict(body, &struct{}{}, true); err != nil {
			return reconcile.NewJob{}, err
		}
		full := false
		if s := r.URL.Query().Get("full"); s != "" {
			var err error
			if full, err = strconv.ParseBool(s); err != nil {
				return reconcile.NewJob{}, invalid("invalid_full", "full must be true or false")
			}
		}
		return reconcile.NewJob{Type: reconcile.JobReconcile, Payload: worker.ReconcileArgs{Full: full}}, nil
	})
}
