package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CookieName is the name of the session cookie.
const CookieName = "reconciler_session"

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// cookiePath sends the cookie to the console and to the queue dashboard
// (QueuesPrefix). The JSON API ignores it: it takes only the bearer token,
// so the cookie cannot be ridden into an API write.
const cookiePath = "/admin"

// deriveKey makes the key that signs sessions from the admin token, so no
// second secret needs configuring, and changing the token ends every
// session. The label keeps this key apart from any other use of the token.
func deriveKey(token string) []byte {
	m := hmac.New(sha256.New, []byte("reconciler-ui-session"))
	m.Write([]byte(token))
	return m.Sum(nil)
}

// session is a verified session cookie. Its value is
// "<expiry unix>.<nonce>.<signature>": the nonce makes every login's value,
// and so its CSRF token, its own.
type session struct {
	value   string
	expires time.Time
}

// sign is the base64url HMAC of msg under the console's key, with a label
// so that a session signature can never serve as a CSRF token or back.
func (h *Handler) sign(label, msg string) string {
	m := hmac.New(sha256.New, h.signKey)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession issues a session that expires SessionTTL from now.
func (h *Handler) newSession() (session, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return session{}, err
	}
	exp := h.now().Add(SessionTTL).Truncate(time.Second)
	payload := strconv.FormatInt(exp.Unix(), 10) + "." + hex.EncodeToString(nonce[:])
	return session{value: payload + "." + h.sign("session", payload), expires: exp}, nil
}

// readSession returns the request's session if its cookie is well signed
// and not expired.
func (h *Handler) readSession(r *http.Request) (session, bool) {
	if !h.hasToken {
		// The key of an empty token is public: nothing it signs counts.
		return session{}, false
	}
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) > 200 {
		return session{}, false
	}
	i := strings.LastIndexByte(c.Value, '.')
	if i < 0 {
		return session{}, false
	}
	payload, sig := c.Value[:i], c.Value[i+1:]
	if !hmac.Equal([]byte(sig), []byte(h.sign("session", payload))) {
		return session{}, false
	}
	expStr, _, _ := strings.Cut(payload, ".")
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || !h.now().Before(time.Unix(exp, 0)) {
		return session{}, false
	}
	return session{value: c.Value, expires: time.Unix(exp, 0)}, true
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

// page wraps a GET page: without a valid session it redirects to the login
// form, which comes back here afterwards.
func (h *Handler) page(next sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.readSession(r)
		if !ok {
			http.Redirect(w, r, "/admin/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r, s)
	}
}

// loginPage is the data of the login form.
type loginPage struct {
	base
	Next string
}

// loginForm answers GET /admin/ui/login; a logged-in operator goes on.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := h.readSession(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	p := loginPage{base: base{Title: "Log in"}, Next: next}
	if r.URL.Query().Get("logged_out") != "" {
		p.Notice = "You are logged out."
	}
	h.render(w, r, http.StatusOK, "login", &p)
}

// login answers POST /admin/ui/login: the admin token for a session cookie.
// The form needs no CSRF token (there is no session yet, and one operator
// token means a forged login gains nothing), but its origin is checked.
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
	got := sha256.Sum256([]byte(strings.TrimSpace(r.PostForm.Get("token"))))
	if subtle.ConstantTimeCompare(got[:], h.tokenSum[:]) != 1 {
		h.render(w, r, http.StatusUnauthorized, "login", &loginPage{
			base: base{Title: "Log in", Error: "Wrong token. Use the admin token (ADMIN_TOKEN)."}, Next: next})
		return
	}
	s, err := h.newSession()
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.setCookie(w, r, s)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout answers POST /admin/ui/logout. Sessions are not stored, so this
// drops the cookie; only a new admin token ends every session at once.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ session) {
	clearCookie(w, r)
	http.Redirect(w, r, "/admin/ui/login?logged_out=1", http.StatusSeeOther)
}

// Protect serves next only to a request with a console session, sending
// anyone else to the login form and back. It puts browser pages outside the
// console, such as Asynq's dashboard at QueuesPrefix, behind the same login.
// Writes must come from this site: the session cookie is SameSite=Strict,
// and their origin is checked as the console's forms are.
func (h *Handler) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.readSession(r); !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "log in at /admin/ui/login", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			http.Error(w, "cross-site request refused", http.StatusForbidden)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// QueuesPrefix is where the service mounts Asynq's dashboard; a login may
// come back there.
const QueuesPrefix = "/admin/queues/"

// safeNext keeps a post-login redirect inside the console (or the queue
// dashboard), so the login form cannot be used to send an operator
// elsewhere.
func safeNext(next string) string {
	const home = "/admin/ui/invoices"
	if !(strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, QueuesPrefix)) || strings.ContainsAny(next, "\\\r\n") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.Contains(u.Path, "..") {
		return home
	}
	return next
}
