package admin_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/reconcile"
)

// failingJobs is a JobSubmitter that fails as a bug would.
type failingJobs struct{}

func (failingJobs) Submit(context.Context, reconcile.NewJob) (reconcile.Job, error) {
	return reconcile.Job{}, errors.New("submit: secret internal detail")
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("a database that cannot be reached is 503 database_unavailable", func(t *testing.T) {
		// Nothing listens on port 1: every query fails to connect.
		pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		srv := httptest.NewServer(admin.New(admin.Config{Token: testToken, Store: reconcile.NewStore(pool), Jobs: failingJobs{}}))
		defer srv.Close()
		h := &harness{t: t, url: srv.URL}
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/admin/invoices", ""},
			{"GET", "/admin/invoices/inv-1", ""},
			{"POST", "/admin/invoices", `{"number":"F","client":"c","currency":"usd","amount":100}`},
			{"POST", "/admin/invoices/inv-1/payments", `{"amount": 100}`},
			{"GET", "/admin/jobs/job_1", ""},
			{"GET", "/admin/events", ""},
		} {
			h.do(c.method, c.path, c.body).mustError(t, http.StatusServiceUnavailable, "database_unavailable")
		}
	})

	t.Run("an unexpected error is 500 internal, its detail only in the log", func(t *testing.T) {
		core, logs := observer.New(zap.ErrorLevel)
		h := newHarness(t, func(c *admin.Config) {
			c.Jobs = failingJobs{}
			c.Log = zap.New(core)
		}).in(t)
		res := h.do("POST", "/admin/reconcile", nil)
		res.mustError(t, http.StatusInternalServerError, "internal")
		if bytes.Contains(res.body, []byte("secret")) {
			t.Fatalf("the answer leaks the detail: %s", res.body)
		}
		found := false
		for _, e := range logs.All() {
			for _, f := range e.Context {
				if f.Key == "error" && strings.Contains(f.Interface.(error).Error(), "secret internal detail") {
					found = true
				}
			}
		}
		if !found {
			t.Fatalf("the detail is not in the log: %+v", logs.All())
		}
	})
}
