// Package worker runs every job through Asynq: the processing of Stripe
// events, operators' changes, relays and reconciliation runs. Tasks carry
// only an id; what a task does lives in PostgreSQL (the inbox, the jobs
// table), so a task lost with Redis is rebuilt from there.
package worker

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/payrecon/reconciler/reconcile"
)

// Asynq task type names.
const (
	TypeProcessEvent = "event:process"
	TypeRunJob       = "job:run"
	TypeRelay        = "relay:sweep"
	TypeDeliver      = "notification:deliver"
	TypeRetention    = "retention:prune"
)

// Queues and their weights: payments first, operators next, upkeep last.
const (
	QueueEvents        = "events"
	QueueJobs          = "jobs"
	QueueMaintenance   = "maintenance"
	QueueNotifications = "notifications"
)

var queueWeights = map[string]int{QueueEvents: 6, QueueJobs: 3, QueueNotifications: 2, QueueMaintenance: 1}

// Retry budgets for transient faults (a database or Redis down). Refusals
// are never retried.
const (
	eventMaxRetry = 25
	jobMaxRetry   = 10
	taskTimeout   = time.Minute
)

// EventPayload is the payload of TypeProcessEvent: stored events, processed
// in this order. The events of one group commit travel in one task, so a
// burst of webhooks costs Redis a task per commit, not per event.
type EventPayload struct {
	EventIDs []string `json:"event_ids"`
}

// JobPayload is the payload of TypeRunJob: one job, or the jobs of one
// group commit of operators' requests, each of a type that groups, which
// the worker starts and applies in one transaction. A burst of requests
// costs Redis a task per commit, not per job.
type JobPayload struct {
	JobID  string   `json:"job_id,omitempty"`
	JobIDs []string `json:"job_ids,omitempty"`
}

// DeliveryPayload is the payload of TypeDeliver.
type DeliveryPayload struct {
	DeliveryID string `json:"delivery_id"`
}

// RecordPaymentArgs are the arguments of a JobRecordPayment job.
type RecordPaymentArgs struct {
	InvoiceID string           `json:"invoice_id"`
	Amount    reconcile.Amount `json:"amount"`
	PaidDate  reconcile.Date   `json:"paid_date"`
	Method    string           `json:"method,omitempty"`
	Notes     string           `json:"notes,omitempty"`
}

// DeletePaymentArgs are the arguments of a JobDeletePayment job.
type DeletePaymentArgs struct {
	InvoiceID string `json:"invoice_id"`
	PaymentID string `json:"payment_id"`
}

// IssueCreditNoteArgs are the arguments of a JobIssueCreditNote job.
type IssueCreditNoteArgs struct {
	InvoiceID string           `json:"invoice_id"`
	Amount    reconcile.Amount `json:"amount"`
	Reason    string           `json:"reason"`
	Notes     string           `json:"notes,omitempty"`
}

// ReverseCreditNoteArgs are the arguments of a JobReverseCreditNote job.
type ReverseCreditNoteArgs struct {
	InvoiceID    string `json:"invoice_id"`
	CreditNoteID string `json:"credit_note_id"`
}

// WriteOffArgs are the arguments of a JobWriteOff job.
type WriteOffArgs struct {
	InvoiceID string `json:"invoice_id"`
	Notes     string `json:"notes,omitempty"`
}

// ReopenArgs are the arguments of a JobReopen job.
type ReopenArgs struct {
	InvoiceID string `json:"invoice_id"`
}

// ReconcileArgs are the arguments of a JobReconcile job.
type ReconcileArgs struct {
	Full bool `json:"full"`
}

// maxEventsPerTask bounds one event task, so a relayed backlog is spread
// over the workers rather than held by one.
const maxEventsPerTask = 256

// eventsTaskID is the Asynq task id of the processing of events: the same
// events queued again, while their task waits, are the same task. A relay
// names its tasks with relayTaskID, and skips events a task still covers.
func eventsTaskID(eventIDs []string) string { return "events:" + idsDigest(eventIDs) }

// jobsTaskID is the Asynq task id of a batch of jobs (JobPayload.JobIDs).
// A job alone keeps its own id as its task's.
func jobsTaskID(jobIDs []string) string { return "jobs:" + idsDigest(jobIDs) }

// idsDigest names a list of ids: the same ids in the same order, the same
// name.
func idsDigest(ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
