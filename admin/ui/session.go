package ui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/internal/operators"
)

// CookieName is the name of the session cookie.
const CookieName = "reconciler_session"

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// cookiePath sends the cookie to the console, to the queue dashboard
// (QueuesPrefix) and to the OpenAPI document. The JSON API ignores it: it
// takes only a bearer key, so the cookie cannot be ridden into an API write.
const cookiePath = "/admin"

// deriveKey makes a key for one use from the admin token, so no second
// secret needs configuring, and changing the token ends the bootstrap
// admin's sessions and every CSRF token. The label keeps each use's key
// apart from the others and from the token itself.
func deriveKey(label, token string) []byte {
	m := hmac.New(sha256.New, []byte(label))
	m.Write([]byte(token))
	return m.Sum(nil)
}

// session is a live console login: its cookie's value and who holds it.
// Sessions are rows of the operators store, read on every request, so
// logging out or revoking the operator ends them at once.
type session struct {
	value     string
	principal operators.Principal
	expires   time.Time
}

// sign is the base64url HMAC of msg under the console's key, with a label
// so that a signature made for one use never serves another.
func (h *Handler) sign(label, msg string) string {
	m := hmac.New(sha256.New, h.signKey)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// readSession returns the request's live session. ok is false without a
// cookie, or with one of no live session (logged out, expired, of a revoked
// operator, or of the bootstrap admin under another ADMIN_TOKEN); err is a
// fault of the store.
func (h *Handler) readSession(r *http.Request) (s session, ok bool, err error) {
	if !h.hasToken {
		return session{}, false, nil
	}
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) > 200 {
		return session{}, false, nil
	}
	stored, ok, err := h.operators.LookupSession(r.Context(), c.Value, h.now())
	if err != nil || !ok {
		return session{}, false, err
	}
	if stored.Principal.OperatorID == "" && subtle.ConstantTimeCompare(stored.TokenDigest, h.tokenDigest) != 1 {
		return session{}, false, nil // the bootstrap admin's, under an ADMIN_TOKEN since replaced
	}
	return session{value: c.Value, principal: stored.Principal, expires: stored.ExpiresAt}, true, nil
}

// secure reports whether the browser reached us over https, directly or
// through a proxy. Only then is the cookie marked Secure: a browser drops a
// Secure cookie set over plain http://localhost.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, s session) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.value, Path: cookiePath, Expires: s.expires,
		MaxAge: int(SessionTTL / time.Second), Secure: secure(r), HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: cookiePath, MaxAge: -1,
		Secure: secure(r), HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// sessionHandler is a console page or action, called with the session.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s session)

type sessionKey struct{}

// withSession returns r carrying s, for render, and its principal, for the
// admin API's actions, which write its name as the actor.
func withSession(r *http.Request, s session) *http.Request {
	ctx := context.WithValue(admin.WithPrincipal(r.Context(), s.principal), sessionKey{}, s)
	return r.WithContext(ctx)
}

// sessionOf returns the session withSession put in r.
func sessionOf(r *http.Request) (session, bool) {
	s, ok := r.Context().Value(sessionKey{}).(session)
	return s, ok
}

// page wraps a GET page: without a valid session it redirects to the login
// form, which comes back here afterwards.
func (h *Handler) page(next sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok, err := h.readSession(r)
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		if !ok {
			http.Redirect(w, r, "/admin/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, withSession(r, s), s)
	}
}

// unavailable answers a page the session store could not check.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	status, title, msg := h.refusal(r, err, nil)
	h.renderError(w, r, status, title, msg)
}

// loginPage is the data of the login form.
type loginPage struct {
	base
	Next string
}

// loginForm answers GET /admin/ui/login; a logged-in operator goes on.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok, _ := h.readSession(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := loginPage{base: base{Title: "Log in"}, Next: next}
	if r.URL.Query().Get("logged_out") != "" {
		p.Notice = "You are logged out."
	}
	h.render(w, r, http.StatusOK, "login", &p)
}

// login answers POST /admin/ui/login: the admin token or an operator's key
// for a session. The form needs no CSRF token (there is no session yet, and
// a forged login gains the forger nothing), but its origin is checked.
// Attempts are limited per address and per key, and a failed one is
// answered only after a delay: a guess costs time.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		h.forbidden(w, r, "The login form was posted from another site.")
		return
	}
	if err := parseForm(w, r); err != nil {
		h.renderError(w, r, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	key := strings.TrimSpace(r.PostForm.Get("token"))
	if wait, ok := h.logins.allow(clientAddress(r), key, h.now()); !ok {
		h.tooManyLogins(w, r, next, wait)
		return
	}
	p, ok, err := h.principalOf(r, key)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if !ok {
		h.failedLogin(w, r, next)
		return
	}
	var digest []byte
	if p.OperatorID == "" {
		digest = h.tokenDigest
	}
	value, err := h.operators.NewSession(r.Context(), p, digest, h.now(), SessionTTL)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	h.setCookie(w, r, session{value: value, principal: p, expires: h.now().Add(SessionTTL)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// principalOf finds who holds key: the bootstrap admin (ADMIN_TOKEN,
// compared by digest so the comparison is constant-time in its length
// too), or a live operator.
func (h *Handler) principalOf(r *http.Request, key string) (operators.Principal, bool, error) {
	got := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(got[:], h.tokenSum[:]) == 1 {
		return operators.Bootstrap, true, nil
	}
	return h.operators.Authenticate(r.Context(), key)
}

// failedLogin answers a wrong key after FailedLoginDelay (or when the
// browser gives up), with the form again.
func (h *Handler) failedLogin(w http.ResponseWriter, r *http.Request, next string) {
	timer := time.NewTimer(h.failedDelay)
	select {
	case <-timer.C:
	case <-r.Context().Done():
		timer.Stop()
	}
	h.render(w, r, http.StatusUnauthorized, "login", &loginPage{
		base: base{Title: "Log in", Error: "Wrong token or key. Use your operator key, or the admin token (ADMIN_TOKEN)."}, Next: next})
}

// tooManyLogins answers an attempt over the limit, saying when to try again.
func (h *Handler) tooManyLogins(w http.ResponseWriter, r *http.Request, next string, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", itoa(secs))
	h.render(w, r, http.StatusTooManyRequests, "login", &loginPage{
		base: base{Title: "Log in", ErrorTitle: "Too many attempts",
			Error: "Too many login attempts from here or with this key. Try again in " + itoa(secs) + " seconds."},
		Next: next})
}

// logout answers POST /admin/ui/logout: the session ends at once, here and
// in every tab that shares it.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s session) {
	if err := h.operators.EndSession(r.Context(), s.value); err != nil {
		h.unavailable(w, r, err)
		return
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/admin/ui/login?logged_out=1", http.StatusSeeOther)
}

// Protect serves next only to a request with a console session, sending
// anyone else to the login form and back. It puts browser pages outside the
// console, such as Asynq's dashboard at QueuesPrefix and the OpenAPI
// document, behind the same login. Any role may read; a write needs the
// role the admin API gives a whole mounted subtree's writes (an admin's),
// and must come from this site: the session cookie is SameSite=Strict, and
// its origin is checked as the console's forms are. Pages are kept out of
// frames, as the console's are.
func (h *Handler) Protect(next http.Handler) http.Handler {
	return DenyFraming(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.operators == nil {
			http.Error(w, "the console has no store for its sessions", http.StatusServiceUnavailable)
			return
		}
		s, ok, err := h.readSession(r)
		if err != nil {
			http.Error(w, "the session store is unavailable; retry", http.StatusServiceUnavailable)
			return
		}
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "log in at /admin/ui/login", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
			if need := admin.RequiredRole(QueuesPrefix, r.Method); !s.principal.Role.Allows(need) {
				http.Error(w, "forbidden_role: the "+string(s.principal.Role)+" role may only look here; changes need the "+
					string(need)+" role", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, withSession(r, s))
	}))
}

// DenyFraming sets the headers that keep a page out of other sites' frames
// (clickjacking) on every answer of next, without the rest of the console's
// Content-Security-Policy, which would stop a page with scripts of its own
// (Asynq's dashboard) from working.
func DenyFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Security-Policy", "frame-ancestors 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// QueuesPrefix is where the service mounts Asynq's dashboard; a login may
// come back there.
const QueuesPrefix = "/admin/queues/"

// OpenAPIPath is where the service serves the admin API's OpenAPI
// document; a console session may read it, and a login may come back there.
const OpenAPIPath = "/admin/openapi.yaml"

// safeNext keeps a post-login redirect inside the console (or the queue
// dashboard, or the OpenAPI document), so the login form cannot be used to
// send an operator elsewhere.
func safeNext(next string) string {
	const home = "/admin/ui/invoices"
	inside := strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, QueuesPrefix) || next == OpenAPIPath
	if !inside || strings.ContainsAny(next, "\\\r\n") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.Contains(u.Path, "..") {
		return home
	}
	return next
}
