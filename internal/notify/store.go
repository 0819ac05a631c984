// Package notify delivers the ledger's outbound notifications: the
// endpoints the business subscribes, the signed, retried HTTP deliveries of
// the notifications the ledger writes in its own transactions, and the
// dispatcher that hands due deliveries to the worker.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/payrecon/reconciler/internal/apperr"
	"github.com/payrecon/reconciler/internal/ids"
	"github.com/payrecon/reconciler/internal/outbox"
	"github.com/payrecon/reconciler/internal/textcheck"
)

// Store keeps endpoints and the bookkeeping of deliveries in PostgreSQL.
// The notifications and deliveries themselves are written by the ledger, in
// the transaction of the change they report.
type Store struct {
	db *pgxpool.Pool
}

// NewStore wraps a connection pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{db: pool} }

// Limits of an endpoint's fields; the migration checks the same.
const (
	maxURLLength         = 2048
	maxDescriptionLength = 500
)

// Endpoint is a subscribed URL as the admin API shows it: never its secret.
type Endpoint struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Events lists the subscribed types; a subscription to everything lists
	// every type, so a reader never has to know that empty means all.
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateEndpoint subscribes url to events (none: every type, including
// types added later) and returns the endpoint with its signing secret, which
// is shown this once and never again.
func (s *Store) CreateEndpoint(ctx context.Context, rawURL string, events []string, description string) (Endpoint, string, error) {
	u, err := validURL(rawURL)
	if err != nil {
		return Endpoint{}, "", err
	}
	subscribed, err := validEvents(events)
	if err != nil {
		return Endpoint{}, "", err
	}
	if !textcheck.Valid(description, maxDescriptionLength) {
		return Endpoint{}, "", apperr.Errorf(apperr.KindInvalid, "invalid_description",
			"description must be at most %d characters", maxDescriptionLength)
	}
	secret := newSecret()
	ep := Endpoint{ID: ids.New("ep"), URL: u, Description: description}
	err = s.db.QueryRow(ctx, `
		INSERT INTO endpoints (id, url, events, description, secret) VALUES ($1, $2, $3, $4, $5)
		RETURNING created_at`, ep.ID, ep.URL, subscribed, description, secret).Scan(&ep.CreatedAt)
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("create endpoint: %w", err)
	}
	ep.CreatedAt = ep.CreatedAt.UTC()
	ep.Events = listedEvents(subscribed)
	return ep, secret, nil
}

// newSecret makes a signing secret in the form both schemes expect: the
// Standard Webhooks one, "whsec_" + base64 of a 256-bit key, which that
// standard's libraries decode to the key; and Stripe's, whose verifiers key
// their HMAC with the whole string (Reconciler-Signature).
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return secretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// validURL returns the URL to store: absolute http or https with a host and
// no credentials, which would otherwise be shown to every admin reader.
func validURL(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", apperr.Errorf(apperr.KindInvalid, "invalid_url", "url %s", why)
	}
	if raw == "" || len(raw) > maxURLLength {
		return bad(fmt.Sprintf("must be 1 to %d characters", maxURLLength))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("must start with http:// or https://")
	case u.Opaque != "" || u.Hostname() == "":
		return bad("must name a host")
	case u.User != nil:
		return bad("must not hold a user or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("has a bad port")
		}
	}
	// The parsed form is stored: the scheme in lower case, as the table's
	// check requires, and nothing net/http would read differently.
	out := u.String()
	if len(out) > maxURLLength {
		return bad(fmt.Sprintf("must be at most %d characters", maxURLLength))
	}
	return out, nil
}

// validEvents returns the types to store, without repeats; nil (stored as
// NULL) subscribes to every type.
func validEvents(events []string) ([]string, error) {
	var out []string
	for _, e := range events {
		if !slices.Contains(outbox.Types(), outbox.Type(e)) {
			return nil, apperr.Errorf(apperr.KindInvalid, "invalid_events", "unknown event type %q", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// listedEvents shows a stored subscription: NULL as every type.
func listedEvents(stored []string) []string {
	if stored != nil {
		return stored
	}
	var all []string
	for _, t := range outbox.Types() {
		all = append(all, string(t))
	}
	return all
}

// ListEndpoints lists the live endpoints, oldest first.
func (s *Store) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, url, events, description, created_at FROM endpoints
		WHERE deleted_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	eps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) {
		var ep Endpoint
		var events []string
		err := r.Scan(&ep.ID, &ep.URL, &events, &ep.Description, &ep.CreatedAt)
		ep.Events, ep.CreatedAt = listedEvents(events), ep.CreatedAt.UTC()
		return ep, err
	})
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return eps, nil
}

// DeleteEndpoint unsubscribes an endpoint. Its row stays, so its deliveries
// can still be listed; those still pending fail in the same transaction, so
// none is sent after the answer.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE endpoints SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`, id)
		if err != nil {
			return fmt.Errorf("delete endpoint %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return endpointNotFound(id)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE deliveries SET status = 'failed', last_error = $2, updated_at = now()
			WHERE endpoint_id = $1 AND status = 'pending'`, id, errEndpointDeleted); err != nil {
			return fmt.Errorf("fail deliveries of endpoint %s: %w", id, err)
		}
		return nil
	})
}

// errEndpointDeleted is the last error of a delivery its endpoint's deletion
// ended.
const errEndpointDeleted = "endpoint deleted"

func endpointNotFound(id string) error {
	return apperr.Errorf(apperr.KindNotFound, "endpoint_not_found", "no endpoint %s", id)
}
