package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/payrecon/reconciler/internal/apperr"
)

// jobByKeySQL reads the job of an idempotency key, with the hash of the
// request it was first used for.
const jobByKeySQL = `SELECT ` + jobColumns + `, request_hash FROM jobs WHERE idempotency_key = $1`

// LookupJobByKey finds the job of an idempotency key. ok is false when the
// key is new. A key first used for another request is refused.
func (s *Store) LookupJobByKey(ctx context.Context, key, requestHash string) (Job, bool, error) {
	var hash string
	j, err := scanJob(rowWith{s.db.QueryRow(ctx, jobByKeySQL, key), []any{&hash}})
	found, err := keyedJob(j, err, hash, requestHash)
	if !found {
		return Job{}, false, err
	}
	return j, true, nil
}

// InvoiceRead is an invoice read ahead of its use, or what its read met
// instead (GetInvoice's error: not found, say).
type InvoiceRead struct {
	Invoice Invoice
	Err     error
}

// LookupJobByKeyReading is LookupJobByKey, and reads invoice invoiceID in
// the same round trip: what a new request checks next. The invoice's read
// is of no use when the key has its job.
func (s *Store) LookupJobByKeyReading(ctx context.Context, key, requestHash, invoiceID string) (Job, bool, InvoiceRead, error) {
	var hash string
	var job Job
	var jobErr error
	var read InvoiceRead
	var b pgx.Batch
	b.Queue(jobByKeySQL, key).QueryRow(func(row pgx.Row) error {
		job, jobErr = scanJob(rowWith{row, []any{&hash}})
		return nil
	})
	b.Queue(ruledInvoiceSQL, invoiceID).QueryRow(func(row pgx.Row) error {
		var err error
		read.Invoice, err = scanRuled(row)
		read.Err = invoiceReadErr(invoiceID, err)
		return nil
	})
	if err := s.db.SendBatch(ctx, &b).Close(); err != nil {
		return Job{}, false, InvoiceRead{}, fmt.Errorf("look up idempotency key: %w", err)
	}
	found, err := keyedJob(job, jobErr, hash, requestHash)
	return job, found, read, err
}

// KeyRead is one request's lookup of its idempotency key, with the read
// of the invoice it names (none when InvoiceID is empty).
type KeyRead struct {
	Key, RequestHash, InvoiceID string
}

// KeyReadResult is what LookupJobByKeyReading returns for one KeyRead.
type KeyReadResult struct {
	Job     Job
	Found   bool
	Invoice InvoiceRead
	Err     error
}

// jobsByKeysSQL reads the jobs of the idempotency keys $1, with the hash
// of the request each was first used for.
const jobsByKeysSQL = `SELECT ` + jobColumns + `, request_hash, idempotency_key FROM jobs WHERE idempotency_key = ANY ($1)`

// LookupJobsByKeysReading is LookupJobByKeyReading for the requests of
// reads, in one round trip of two statements however many there are: the
// admin API gathers the lookups of concurrent requests. Each result is
// what LookupJobByKeyReading (or LookupJobByKey, for a read without an
// invoice) returns for its read alone, at the moment of the round trip.
// The error is a fault of the round trip, which no result then holds.
func (s *Store) LookupJobsByKeysReading(ctx context.Context, reads []KeyRead) ([]KeyReadResult, error) {
	keys := make([]string, 0, len(reads))
	invoiceIDs := make([]string, 0, len(reads))
	for _, r := range reads {
		keys = append(keys, r.Key)
		if r.InvoiceID != "" {
			invoiceIDs = append(invoiceIDs, r.InvoiceID)
		}
	}
	type keyed struct {
		job  Job
		hash string
	}
	jobs := make(map[string]keyed, len(reads))
	invoices := make(map[string]Invoice, len(invoiceIDs))
	var b pgx.Batch
	b.Queue(jobsByKeysSQL, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var k keyed
			var key string
			j, err := scanJob(rowWith{rows, []any{&k.hash, &key}})
			if err != nil {
				return err
			}
			k.job = j
			jobs[key] = k
		}
		return rows.Err()
	})
	if len(invoiceIDs) > 0 {
		b.Queue(ruledInvoicesSQL, invoiceIDs).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				inv, err := scanRuled(rows)
				if err != nil {
					return err
				}
				invoices[inv.ID] = inv
			}
			return rows.Err()
		})
	}
	if err := s.db.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("look up %d idempotency keys: %w", len(reads), err)
	}
	out := make([]KeyReadResult, len(reads))
	for i, r := range reads {
		res := &out[i]
		k, ok := jobs[r.Key]
		var err error
		if !ok {
			err = pgx.ErrNoRows
		}
		if res.Found, res.Err = keyedJob(k.job, err, k.hash, r.RequestHash); res.Found {
			res.Job = k.job
		}
		if r.InvoiceID != "" {
			inv, ok := invoices[r.InvoiceID]
			if ok {
				res.Invoice.Invoice = inv
			} else {
				res.Invoice.Err = invoiceNotFound(r.InvoiceID)
			}
		}
	}
	return out, nil
}

// keyedJob is what the lookup of an idempotency key found: the job of
// requestHash, none, or a refusal for a key first used by another request.
func keyedJob(j Job, err error, hash, requestHash string) (bool, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up idempotency key: %w", err)
	}
	if hash != requestHash {
		return false, apperr.Errorf(apperr.KindRefused, "idempotency_key_reused",
			"this Idempotency-Key was used for another request (job %s)", j.ID)
	}
	return true, nil
}
