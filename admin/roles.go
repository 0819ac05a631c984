package admin

import (
	"net/http"
	"strings"

	"github.com/payrecon/reconciler/internal/operators"
)

// adminRoutes are the routes only an admin may call: managing operators,
// notification endpoints and reconciliation runs. Reading the endpoints
// and their deliveries is a viewer's, like every other read.
var adminRoutes = map[string]bool{
	"POST /admin/operators":              true,
	"GET /admin/operators":               true,
	"DELETE /admin/operators/{id}":       true,
	"POST /admin/endpoints":              true,
	"DELETE /admin/endpoints/{id}":       true,
	"POST /admin/deliveries/{id}/resend": true,
	"POST /admin/reconcile":              true,
}

// RequiredRole is the least role that may call the route of pattern (a
// pattern given to Handle) with method: an admin's for adminRoutes; a
// viewer's for any other read; an operator's for any other write (money,
// credit notes, write-offs, reopens, resolutions, invoices). A subtree
// mounted whole, with no method in its pattern (the queue dashboard), is
// read by viewers and changed by admins only: which of its writes matter
// is not ours to know.
func RequiredRole(pattern, method string) operators.Role {
	if adminRoutes[pattern] {
		return operators.RoleAdmin
	}
	if method == http.MethodGet || method == http.MethodHead {
		return operators.RoleViewer
	}
	if _, _, hasMethod := strings.Cut(pattern, " "); !hasMethod {
		return operators.RoleAdmin
	}
	return operators.RoleOperator
}

// guard serves h only to a principal whose role allows the route.
func (a *API) guard(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		need := RequiredRole(pattern, r.Method)
		if _, err := require(r.Context(), need, r.Method+" "+r.URL.Path); err != nil {
			a.WriteError(w, r, err)
			return
		}
		h(w, r)
	}
}
