package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/payrecon/reconciler/internal/operators"
)

// Authentication: a request carries "Authorization: Bearer <key>", the
// ADMIN_TOKEN (the bootstrap admin) or an operator's own key. The key is
// checked against the database on every request, so a revoked key stops
// working at once. The principal found rides in the request's context to
// the handlers, which write its name as the actor of what they change.

type principalKey struct{}

// WithPrincipal returns ctx carrying p: who makes the request. The API's
// own routes get it from authentication; another front end of the same
// actions (the console) sets it from its session.
func WithPrincipal(ctx context.Context, p operators.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal WithPrincipal put in ctx.
func PrincipalFrom(ctx context.Context) (operators.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(operators.Principal)
	return p, ok
}

// ActorFrom names who makes the request in ctx, as history rows, jobs and
// resolutions record it.
func ActorFrom(ctx context.Context) string {
	p, _ := PrincipalFrom(ctx)
	return p.Name
}

// authenticate answers 503 or 401 unless the request carries the admin
// token or a live operator's key, and returns who it is.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (operators.Principal, bool) {
	if !a.hasToken {
		a.WriteError(w, r, httpErr(http.StatusServiceUnavailable, "admin_not_configured",
			"the admin API has no token configured (ADMIN_TOKEN)"))
		return operators.Principal{}, false
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	p, ok, err := a.principalOf(r.Context(), token)
	switch {
	case err != nil:
		a.WriteError(w, r, err)
		return operators.Principal{}, false
	case !strings.EqualFold(scheme, "Bearer") || !ok:
		w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
		a.WriteError(w, r, httpErr(http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token or operator key"))
		return operators.Principal{}, false
	}
	return p, true
}

// principalOf finds who holds token: the bootstrap admin, or a live
// operator. Comparing digests keeps the admin token's comparison
// constant-time in its length too, which ConstantTimeCompare alone is not.
func (a *API) principalOf(ctx context.Context, token string) (operators.Principal, bool, error) {
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], a.tokenSum[:]) == 1 {
		return operators.Bootstrap, true, nil
	}
	if a.operators == nil || !operators.LooksLikeKey(token) {
		return operators.Principal{}, false, nil
	}
	return a.operators.Authenticate(ctx, token)
}

// errForbidden is the refusal of a call the principal's role does not
// allow.
func errForbidden(p operators.Principal, what string, need operators.Role) error {
	return httpErr(http.StatusForbidden, "forbidden_role",
		"the "+string(p.Role)+" role of "+p.Name+" may not "+what+": it needs the "+string(need)+" role")
}

// require returns the request's principal when its role allows what needs
// need, else a 403 (or a 401 when ctx carries nobody). The routes are
// guarded by their pattern already; the actions the console shares with
// the API check again here, so no front end can skip it.
func require(ctx context.Context, need operators.Role, what string) (operators.Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return operators.Principal{}, httpErr(http.StatusUnauthorized, "unauthorized", "nobody is logged in")
	}
	if !p.Role.Allows(need) {
		return p, errForbidden(p, what, need)
	}
	return p, nil
}
