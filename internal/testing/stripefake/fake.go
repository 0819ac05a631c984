// Package stripefake is a small stateful fake of the Stripe list endpoints
// the service calls, for tests: GET /v1/payment_intents, /v1/disputes and
// /v1/events with Stripe's list semantics (newest first, limit,
// starting_after, ending_before, created filters, has_more, expansions).
//
// stripe-mock answers every list with one example object whatever the
// query, so it proves a client's wiring but not its paging. This fake holds
// the objects a test adds and serves them as Stripe's own example objects
// (stripe-mock's fixtures, in testdata) with the test's ids, amounts and
// statuses written over them, so every field a client does not read is still
// there. It keeps compact records and renders JSON one page at a time, so a
// benchmark can hold 100,000 payment intents.
package stripefake

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// APIKey is the only secret key the fake accepts.
const APIKey = "sk_test_stripefake"

// Fake is a running fake Stripe API. Its methods are safe for concurrent
// use.
type Fake struct {
	tb  testing.TB
	srv *httptest.Server

	mu              sync.Mutex
	payments        collection[*paymentIntentRec]
	disputes        collection[*disputeRec]
	events          collection[*eventRec]
	disputedCharges map[string]bool
	requests        []Request
	failOn          map[int]bool
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Status is the HTTP status the fake answered.
	Status int
}

// New starts a fake Stripe API that stops when the test ends.
func New(tb testing.TB) *Fake {
	tb.Helper()
	f := &Fake{
		tb:              tb,
		payments:        newCollection[*paymentIntentRec](),
		disputes:        newCollection[*disputeRec](),
		events:          newCollection[*eventRec](),
		disputedCharges: map[string]bool{},
		failOn:          map[int]bool{},
	}
	f.srv = httptest.NewServer(f)
	tb.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL, for a client's API base (STRIPE_API_BASE).
func (f *Fake) URL() string { return f.srv.URL }

// Requests returns every request received so far, oldest first.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Request, len(f.requests))
	copy(out, f.requests)
	return out
}

// FailRequest makes the fake's nth request (counting from 1, every path)
// answer 500 with a Stripe api_error. stripe-go retries a GET that fails
// so, twice by default: fail n, n+1 and n+2 for the failure to reach the
// caller.
func (f *Fake) FailRequest(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOn[n] = true
}

// apiError is an error answer in Stripe's shape.
type apiError struct {
	status  int
	typ     string // invalid_request_error, api_error
	code    string
	param   string
	message string
}

func (e *apiError) render() []byte {
	var b bytes.Buffer
	b.WriteString(`{"error":{`)
	if e.code != "" {
		fmt.Fprintf(&b, `"code":%s,`, jsonString(e.code))
	}
	fmt.Fprintf(&b, `"message":%s,`, jsonString(e.message))
	if e.param != "" {
		fmt.Fprintf(&b, `"param":%s,`, jsonString(e.param))
	}
	fmt.Fprintf(&b, `"type":%s}}`, jsonString(e.typ))
	return b.Bytes()
}

func invalidRequest(status int, code, param, format string, args ...any) *apiError {
	return &apiError{status: status, typ: "invalid_request_error", code: code, param: param,
		message: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one request as Stripe's API would.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.requests) + 1
	body, err := f.serve(n, r)
	status := http.StatusOK
	if err != nil {
		status, body = err.status, err.render()
	}
	f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: status})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", fmt.Sprintf("req_stripefake_%d", n))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (f *Fake) serve(n int, r *http.Request) ([]byte, *apiError) {
	if f.failOn[n] {
		return nil, &apiError{status: http.StatusInternalServerError, typ: "api_error",
			message: fmt.Sprintf("stripefake: request %d fails, as the test asked", n)}
	}
	if err := checkKey(r.Header.Get("Authorization")); err != nil {
		return nil, err
	}
	if r.Method != http.MethodGet {
		return nil, unrecognized(r)
	}
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	switch r.URL.Path {
	case "/v1/payment_intents":
		return f.listPaymentIntents(q)
	case "/v1/disputes":
		return f.listDisputes(q)
	case "/v1/events":
		return f.listEvents(q)
	}
	return nil, unrecognized(r)
}

func unrecognized(r *http.Request) *apiError {
	return invalidRequest(http.StatusNotFound, "", "", "Unrecognized request URL (%s: %s).", r.Method, r.URL.Path)
}

// checkKey accepts APIKey as a bearer token, and refuses anything else as
// Stripe does, naming only the key's last characters.
func checkKey(auth string) *apiError {
	key, ok := strings.CutPrefix(auth, "Bearer ")
	switch {
	case auth == "" || !ok || key == "":
		return invalidRequest(http.StatusUnauthorized, "", "",
			"You did not provide an API key. You need to provide your API key in the Authorization header, "+
				"using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
	case key != APIKey:
		return invalidRequest(http.StatusUnauthorized, "", "", "Invalid API Key provided: %s", redact(key))
	}
	return nil
}

func redact(key string) string {
	if len(key) <= 12 {
		return strings.Repeat("*", len(key))
	}
	return key[:8] + strings.Repeat("*", len(key)-12) + key[len(key)-4:]
}
