package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds one call to the admin API; waiting for a job is many
// calls, bounded by waitTimeout.
const requestTimeout = 30 * time.Second

// maxAnswer bounds what is read of one answer; listings are paged far below.
const maxAnswer = 32 << 20

// APIError is an error answer of the admin API: its HTTP status and the
// contract's {"error": {"code", "message"}}.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error is "code: message".
func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// client calls the admin API at base with the bearer token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// path joins escaped path segments under /admin: path("invoices", id).
func path(segments ...string) string {
	var b strings.Builder
	b.WriteString("/admin")
	for _, s := range segments {
		b.WriteString("/")
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// call sends one request and returns the raw body of a 2xx answer. body, if
// not nil, is sent as JSON; headers are added as they are.
func (c *client) call(ctx context.Context, method, p string, query url.Values, body any, headers map[string]string) ([]byte, error) {
	if c.token == "" {
		return nil, usageErrorf("ADMIN_TOKEN is not set, nor RECONCILER_KEY: export your operator key as RECONCILER_KEY, or the admin token as ADMIN_TOKEN (the server refuses every /admin request without one)")
	}
	u := c.base + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s (set RECONCILER_URL or --url): %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, p, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, apiError(resp.StatusCode, raw)
	}
	return raw, nil
}

// apiError reads the contract's error answer; anything else (a proxy's HTML
// page) still gives a code and a message.
func apiError(status int, raw []byte) *APIError {
	var answer struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.Error.Code != "" {
		return &APIError{Status: status, Code: answer.Error.Code, Message: answer.Error.Message}
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{Status: status, Code: fmt.Sprintf("http_%d", status), Message: msg}
}

// stream sends a GET and copies a 2xx answer's body to w as it arrives,
// with no time limit but ctx's: a year of movements may take a while.
func (c *client) stream(ctx context.Context, p string, query url.Values, w io.Writer) error {
	if c.token == "" {
		return usageErrorf("ADMIN_TOKEN is not set, nor RECONCILER_KEY: export your operator key as RECONCILER_KEY, or the admin token as ADMIN_TOKEN")
	}
	u := c.base + p
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s (set RECONCILER_URL or --url): %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return apiError(resp.StatusCode, raw)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		// The server cuts the connection rather than end a partial file.
		return fmt.Errorf("GET %s: the answer broke off: %w", p, err)
	}
	return nil
}

// do calls the API with call and decodes a 2xx answer into v (when v is
// not nil). It returns the raw answer too, for --json.
func (c *client) do(ctx context.Context, method, p string, query url.Values, body any, headers map[string]string, v any) ([]byte, error) {
	raw, err := c.call(ctx, method, p, query, body, headers)
	if err != nil || v == nil {
		return raw, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return raw, fmt.Errorf("unexpected answer from the admin API to %s %s: %w", method, p, err)
	}
	return raw, nil
}

// get is do for GET.
func (c *client) get(ctx context.Context, p string, query url.Values, v any) ([]byte, error) {
	return c.do(ctx, http.MethodGet, p, query, nil, nil, v)
}
