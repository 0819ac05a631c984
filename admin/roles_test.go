package admin_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/reconcile"
)

// leastRole is the contract's table (API.md, Roles) of who may call each
// admin route: viewer reads everything; operator also changes money,
// invoices, credit notes, write-offs, and resolves; admin also manages
// operators, notification endpoints and reconciliation runs. It is written
// out here, not derived from the code it checks. A route the API registers
// that is missing here fails TestRoleMatrix, so a new route cannot be
// forgotten.
var leastRole = map[string]operators.Role{
	"POST /admin/invoices":                                      operators.RoleOperator,
	"GET /admin/invoices":                                       operators.RoleViewer,
	"GET /admin/invoices/{id}":                                  operators.RoleViewer,
	"POST /admin/invoices/{id}/send":                            operators.RoleOperator,
	"DELETE /admin/invoices/{id}":                               operators.RoleOperator,
	"POST /admin/invoices/{id}/payments":                        operators.RoleOperator,
	"DELETE /admin/invoices/{id}/payments/{payment_id}":         operators.RoleOperator,
	"POST /admin/invoices/{id}/credit-notes":                    operators.RoleOperator,
	"DELETE /admin/invoices/{id}/credit-notes/{credit_note_id}": operators.RoleOperator,
	"POST /admin/invoices/{id}/write-off":                       operators.RoleOperator,
	"POST /admin/invoices/{id}/reopen":                          operators.RoleOperator,
	"GET /admin/jobs":                                           operators.RoleViewer,
	"GET /admin/jobs/{id}":                                      operators.RoleViewer,
	"GET /admin/events":                                         operators.RoleViewer,
	"POST /admin/events/{id}/resolve":                           operators.RoleOperator,
	"POST /admin/reconcile":                                     operators.RoleAdmin,
	"GET /admin/reconcile/runs":                                 operators.RoleViewer,
	"GET /admin/discrepancies":                                  operators.RoleViewer,
	"POST /admin/discrepancies/{id}/resolve":                    operators.RoleOperator,
	"GET /admin/reports/summary":                                operators.RoleViewer,
	"GET /admin/reports/aging":                                  operators.RoleViewer,
	"GET /admin/reports/movements.csv":                          operators.RoleViewer,
	"POST /admin/operators":                                     operators.RoleAdmin,
	"GET /admin/operators":                                      operators.RoleAdmin,
	"DELETE /admin/operators/{id}":                              operators.RoleAdmin,
	"POST /admin/endpoints":                                     operators.RoleAdmin,
	"GET /admin/endpoints":                                      operators.RoleViewer,
	"DELETE /admin/endpoints/{id}":                              operators.RoleAdmin,
	"GET /admin/endpoints/{id}/deliveries":                      operators.RoleViewer,
	"POST /admin/deliveries/{id}/resend":                        operators.RoleAdmin,
	"GET /admin/openapi.yaml":                                   operators.RoleViewer,
}

// subtreeRoles are routes mounted whole, without a method (the queue
// dashboard): read by a viewer, changed by an admin.
var subtreeRoles = map[string]operators.Role{http.MethodGet: operators.RoleViewer, http.MethodPost: operators.RoleAdmin,
	http.MethodDelete: operators.RoleAdmin}

// TestRoleMatrix calls every route the API registers (as the web process
// mounts it, notifications and the queue dashboard included) with a key of
// each role, and checks that exactly the roles the contract allows get past
// the role check: the others get 403 forbidden_role, with nothing stored.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.api.MountNotifications(notify.NewStore(h.pool))
	h.api.Handle("/admin/queues/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	keys := map[operators.Role]string{}
	for _, role := range operators.Roles() {
		keys[role] = h.newOperator("matrix-"+string(role), role)
	}

	routes := h.api.Routes()
	if len(routes) < 20 {
		t.Fatalf("the API lists %d routes: %v", len(routes), routes)
	}
	for _, pattern := range routes {
		method, path, hasMethod := strings.Cut(pattern, " ")
		calls := map[string]operators.Role{method: leastRole[pattern]}
		if !hasMethod {
			path, calls = pattern, subtreeRoles
		} else if _, listed := leastRole[pattern]; !listed {
			t.Errorf("route %q is not in the role matrix: add the role API.md gives it to leastRole", pattern)
			continue
		}
		for _, m := range slices.Sorted(mapKeys(calls)) {
			need := calls[m]
			for _, role := range operators.Roles() {
				allowed := role.Allows(need)
				verdict := "is refused with 403"
				if allowed {
					verdict = "gets past the role check"
				}
				t.Run(fmt.Sprintf("%s calling %s %s %s", withArticle(role), m, path, verdict), func(t *testing.T) {
					jobs := h.jobRows()
					// Parameters name nothing that exists, so an allowed call
					// is answered by its handler (400, 404, ...) and changes
					// nothing either.
					target := strings.NewReplacer("{id}", "matrix_missing", "{payment_id}", "matrix_missing",
						"{credit_note_id}", "matrix_missing", "{$}", "").Replace(path)
					res := h.in(t).doAuth(m, target, "{}", "Authorization", "Bearer "+keys[role])
					if !allowed {
						res.mustError(t, http.StatusForbidden, "forbidden_role")
						if n := h.jobRows(); n != jobs {
							t.Fatalf("a refused call stored %d jobs", n-jobs)
						}
						return
					}
					if res.status == http.StatusForbidden || res.status == http.StatusUnauthorized {
						t.Fatalf("%d for a %s: %s", res.status, role, res.body)
					}
				})
			}
		}
	}
}

// withArticle is "a viewer", "an operator", "an admin".
func withArticle(r operators.Role) string {
	if strings.ContainsRune("aeiou", rune(r[0])) {
		return "an " + string(r)
	}
	return "a " + string(r)
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// newOperator adds an operator through the API with the admin token and
// returns its key.
func (h *harness) newOperator(name string, role operators.Role) string {
	h.t.Helper()
	var created struct {
		ID   string `json:"id"`
		Role string `json:"role"`
		Key  string `json:"key"`
	}
	h.do("POST", "/admin/operators", map[string]string{"name": name, "role": string(role)}).must(h.t, http.StatusCreated, &created)
	if created.Key == "" || created.Role != string(role) {
		h.t.Fatalf("created operator %+v", created)
	}
	return created.Key
}

// as sends a request with an operator's key.
func (h *harness) as(key, method, path string, body any, headers ...string) response {
	h.t.Helper()
	return h.doAuth(method, path, body, append([]string{"Authorization", "Bearer " + key}, headers...)...)
}

func TestOperators(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startWorker()

	t.Run("an operator is created with a key shown once, and listed without it", func(t *testing.T) {
		h := h.in(t)
		var created map[string]any
		h.do("POST", "/admin/operators", `{"name":"alice","role":"operator"}`).must(t, http.StatusCreated, &created)
		key, _ := created["key"].(string)
		if !strings.HasPrefix(key, "rk_") || len(key) < 60 || created["created_by"] != "admin" || created["revoked_at"] != nil {
			t.Fatalf("created %v", created)
		}
		res := h.do("GET", "/admin/operators", nil)
		var list struct{ Operators []map[string]any }
		res.must(t, http.StatusOK, &list)
		if strings.Contains(string(res.body), key) || strings.Contains(string(res.body), `"key"`) {
			t.Fatalf("the listing shows a key: %s", res.body)
		}
		if len(list.Operators) == 0 || list.Operators[len(list.Operators)-1]["name"] != "alice" {
			t.Fatalf("operators %v", list.Operators)
		}
		var stored int
		if err := h.pool.QueryRow(t.Context(), `SELECT count(*) FROM operators WHERE key_hash = convert_to($1, 'UTF8')
			OR key_id = $1`, key).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != 0 {
			t.Fatal("the key is stored as it is")
		}
	})

	for _, c := range []struct{ name, body, status, code string }{
		{"a name taken before is refused", `{"name":"alice","role":"viewer"}`, "409", "operator_exists"},
		{"the bootstrap admin's name is refused", `{"name":"admin","role":"viewer"}`, "400", "invalid_name"},
		{"the system's actor names are refused", `{"name":"stripe","role":"viewer"}`, "400", "invalid_name"},
		{"a name with spaces is refused", `{"name":"Alice Smith","role":"viewer"}`, "400", "invalid_name"},
		{"an unknown role is refused", `{"name":"zed","role":"root"}`, "400", "invalid_role"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status := map[string]int{"400": http.StatusBadRequest, "409": http.StatusConflict}[c.status]
			h.in(t).do("POST", "/admin/operators", c.body).mustError(t, status, c.code)
		})
	}

	t.Run("an operator's changes and jobs carry its name", func(t *testing.T) {
		h := h.in(t)
		key := h.newOperator("bob", operators.RoleOperator)
		var inv reconcile.Invoice
		h.as(key, "POST", "/admin/invoices", `{"id":"inv-bob","number":"B-1","client":"acme","currency":"usd","amount":10000}`).
			must(t, http.StatusCreated, &inv)
		h.as(key, "POST", "/admin/invoices/inv-bob/send", nil).must(t, http.StatusOK, nil)
		var job reconcile.Job
		h.as(key, "POST", "/admin/invoices/inv-bob/payments", `{"amount":2500}`).must(t, http.StatusAccepted, &job)
		if job.Actor != "bob" {
			t.Fatalf("job actor %q, want bob", job.Actor)
		}
		h.waitSucceeded(job.ID)
		h.waitSucceeded(h.queue("POST", "/admin/invoices/inv-bob/write-off", `{"notes":"gone"}`).ID)
		var got []string
		for _, e := range h.detail("inv-bob").History {
			got = append(got, string(e.Kind)+" by "+e.Actor)
		}
		want := []string{"created by bob", "sent by bob", "payment_recorded by bob", "written_off by admin"}
		if !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
	})

	t.Run("a viewer reads but is refused a payment, with a clear code", func(t *testing.T) {
		h := h.in(t)
		key := h.newOperator("vera", operators.RoleViewer)
		h.createInvoice("inv-vera", 10000, true)
		h.as(key, "GET", "/admin/invoices/inv-vera", nil).must(t, http.StatusOK, nil)
		h.unchanged("inv-vera", func() {
			msg := h.as(key, "POST", "/admin/invoices/inv-vera/payments", `{"amount":100}`).
				mustError(t, http.StatusForbidden, "forbidden_role")
			if !strings.Contains(msg, "viewer") || !strings.Contains(msg, "operator") {
				t.Fatalf("message %q does not say which role is needed", msg)
			}
		})
	})

	t.Run("an operator may not manage operators", func(t *testing.T) {
		h := h.in(t)
		key := h.newOperator("olga", operators.RoleOperator)
		h.as(key, "POST", "/admin/operators", `{"name":"mallory","role":"admin"}`).mustError(t, http.StatusForbidden, "forbidden_role")
		h.as(key, "GET", "/admin/operators", nil).mustError(t, http.StatusForbidden, "forbidden_role")
	})
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	t.Run("a revoked key is refused at once, and revoking again is 404", func(t *testing.T) {
		h := h.in(t)
		var created struct{ ID, Key string }
		h.do("POST", "/admin/operators", `{"name":"rita","role":"operator"}`).must(t, http.StatusCreated, &created)
		h.as(created.Key, "GET", "/admin/invoices", nil).must(t, http.StatusOK, nil)
		h.do("DELETE", "/admin/operators/"+created.ID, nil).must(t, http.StatusNoContent, nil)
		h.as(created.Key, "GET", "/admin/invoices", nil).mustError(t, http.StatusUnauthorized, "unauthorized")
		h.do("DELETE", "/admin/operators/"+created.ID, nil).mustError(t, http.StatusNotFound, "operator_not_found")

		var list struct{ Operators []operators.Operator }
		h.do("GET", "/admin/operators", nil).must(t, http.StatusOK, &list)
		i := slices.IndexFunc(list.Operators, func(o operators.Operator) bool { return o.ID == created.ID })
		if i < 0 || list.Operators[i].RevokedAt == nil {
			t.Fatalf("operators %+v: want rita listed as revoked", list.Operators)
		}
	})

	t.Run("a key that looks right but is not one is refused", func(t *testing.T) {
		h := h.in(t)
		key := h.newOperator("sam", operators.RoleViewer)
		last := "A"
		if strings.HasSuffix(key, "A") {
			last = "B"
		}
		forged := key[:len(key)-1] + last
		h.as(forged, "GET", "/admin/invoices", nil).mustError(t, http.StatusUnauthorized, "unauthorized")
	})
}
