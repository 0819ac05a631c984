package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// csrfField is the hidden form field that carries the CSRF token.
const csrfField = "csrf"

// maxForm bounds a posted form; the largest field is notes (textcheck.MaxNotes
// characters).
const maxForm = 64 << 10

// csrfToken is the session's CSRF token: a keyed hash of the session value,
// so it needs no storage, differs for every login and dies with the
// session, and shows nothing of the value (which opens the session).
func (h *Handler) csrfToken(s session) string {
	return h.sign("csrf", s.value)
}

// validCSRF compares the posted token with the session's in constant time.
func (h *Handler) validCSRF(r *http.Request, s session) bool {
	got := r.PostForm.Get(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(h.csrfToken(s)))
}

// sameOrigin refuses a request that says it comes from another site: by
// Sec-Fetch-Site, then by the host of Origin, or of Referer when there is no
// Origin. A request with none of them (an old client, a script) passes; the
// CSRF token still guards it.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		return sameHost(origin, r.Host)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		return sameHost(ref, r.Host)
	}
	return true
}

// sameHost reports whether the URL raw names host (with its port). An
// opaque origin ("null") names none.
func sameHost(raw, host string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// action wraps a POST form: a valid session, the same origin and the
// session's CSRF token, else nothing is done. A session that ran out sends
// the operator to log in again; a bad origin or token is a 403 page.
func (h *Handler) action(next sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok, err := h.readSession(r)
		if err != nil {
			h.unavailable(w, r, err)
			return
		}
		if !ok {
			http.Redirect(w, r, "/admin/ui/login", http.StatusSeeOther)
			return
		}
		r = withSession(r, s)
		w.Header().Set("Cache-Control", "no-store")
		if !sameOrigin(r) {
			h.forbidden(w, r, "The form was posted from another site.")
			return
		}
		if err := parseForm(w, r); err != nil {
			h.renderError(w, r, http.StatusBadRequest, "Bad request", err.Error())
			return
		}
		if !h.validCSRF(r, s) {
			h.forbidden(w, r, "The form's security token is missing or out of date. Reload the page and try again.")
			return
		}
		next(w, r, s)
	}
}

// parseForm reads a urlencoded form of at most maxForm bytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errors.New("the form is too large")
		}
		return errors.New("the form could not be read")
	}
	return nil
}

// formKeyField is the hidden field with a nonce made when the form was
// shown: posting the same form twice (a double click, the back button) is
// one idempotency key, so it queues one job.
const formKeyField = "form_key"

// newFormKey makes a form's nonce.
func newFormKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// idempotencyKey is the job's idempotency key for a posted form: empty (no
// key) unless the form carried a well-formed nonce.
func idempotencyKey(r *http.Request) string {
	k := r.PostForm.Get(formKeyField)
	if len(k) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(k); err != nil {
		return ""
	}
	return "ui:" + k
}
