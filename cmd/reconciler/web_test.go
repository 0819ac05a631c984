package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/config"
	"github.com/payrecon/reconciler/internal/testing/testenv"
)

const (
	testToken  = "test-admin-token-0123456789"
	testSecret = "whsec_test_web"
)

// startWeb serves the web role as reconciler web does, on a fresh database.
func startWeb(t *testing.T, redisURL string) *httptest.Server {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL": testenv.DatabaseURL(t), "REDIS_URL": redisURL,
		"ADMIN_TOKEN": testToken, "STRIPE_WEBHOOK_SECRET": testSecret,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d, err := connect(context.Background(), cfg, zap.NewNop(), roleWeb)
	if err != nil {
		t.Fatal(err)
	}
	// The real server, with its timeouts, not httptest's default one.
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = newHTTPServer(cfg, d, zap.NewNop())
	srv.Start()
	t.Cleanup(func() { srv.Close(); d.closeWeb(); d.Close() })
	return srv
}

func get(t *testing.T, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWebServesHealthMetricsAndQueues(t *testing.T) {
	t.Parallel()
	redis := testenv.Redis(t)
	srv := startWeb(t, "redis://"+redis.Addr+"/"+itoa(redis.DB))

	t.Run("healthz and readyz answer 200 when PostgreSQL and Redis do", func(t *testing.T) {
		if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz %d", resp.StatusCode)
		}
		if resp, body := get(t, srv.URL+"/readyz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz %d %s", resp.StatusCode, body)
		}
	})
	t.Run("every answer carries a request id, the caller's when it is plain", func(t *testing.T) {
		resp, _ := get(t, srv.URL+"/healthz", "X-Request-Id", "trace-42")
		if got := resp.Header.Get("X-Request-Id"); got != "trace-42" {
			t.Fatalf("request id %q", got)
		}
		resp, _ = get(t, srv.URL+"/healthz", "X-Request-Id", "bad id\twith tab")
		if got := resp.Header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
			t.Fatalf("request id %q, want a fresh one", got)
		}
	})
	t.Run("a webhook moves the webhook and HTTP metric families", func(t *testing.T) {
		payload, err := os.ReadFile(filepath.Join("..", "..", "internal", "stripe", "testdata", "payment_intent.succeeded.json"))
		if err != nil {
			t.Fatal(err)
		}
		header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: testSecret, Timestamp: time.Now()}).Header
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/stripe", bytes.NewReader(payload))
		req.Header.Set("Stripe-Signature", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d", resp.StatusCode)
		}
		// The event's task is queued after the answer, off the request's
		// path: wait for it to show.
		const queued = `reconciler_queue_tasks{queue="events",state="pending"} 1`
		var metrics string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, metrics = get(t, srv.URL+"/metrics"); strings.Contains(metrics, queued) || time.Now().After(deadline) {
				break
			}
		}
		for _, want := range []string{
			`reconciler_webhook_events_total{outcome="new"} 1`,
			`reconciler_http_requests_total{code="200",handler="webhooks"} 1`,
			`reconciler_http_request_duration_seconds_count{handler="webhooks"} 1`,
			queued,
			`go_goroutines`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("the queue dashboard needs the admin token or a console login", func(t *testing.T) {
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(srv.URL + "/admin/queues/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/ui/login?next=") {
			t.Fatalf("without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := get(t, srv.URL+"/admin/queues/api/queues", "Authorization", "Bearer wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", resp.StatusCode)
		}
		resp, body := get(t, srv.URL+"/admin/queues/api/queues", "Authorization", "Bearer "+testToken)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"queue":"events"`) {
			t.Fatalf("with token: %d %s", resp.StatusCode, body)
		}

		// A browser logs in to the console, and its cookie opens the dashboard.
		form := url.Values{"token": {testToken}, "next": {"/admin/queues/"}}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/ui/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		login, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		login.Body.Close()
		cookies := login.Cookies()
		if login.StatusCode != http.StatusSeeOther || len(cookies) == 0 {
			t.Fatalf("login: %d, cookies %v", login.StatusCode, cookies)
		}
		req, _ = http.NewRequest(http.MethodGet, srv.URL+"/admin/queues/", nil)
		req.AddCookie(cookies[0])
		page, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		html, _ := io.ReadAll(page.Body)
		page.Body.Close()
		if page.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(html)), "<html") {
			t.Fatalf("dashboard with a session: %d", page.StatusCode)
		}
		for _, h := range []http.Header{page.Header, resp.Header} {
			if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("the dashboard may be framed: X-Frame-Options %q, Content-Security-Policy %q",
					h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
			}
		}

		// The same session may read the API's OpenAPI document; nobody else.
		req, _ = http.NewRequest(http.MethodGet, srv.URL+"/admin/openapi.yaml", nil)
		req.AddCookie(cookies[0])
		doc, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		yaml, _ := io.ReadAll(doc.Body)
		doc.Body.Close()
		if doc.StatusCode != http.StatusOK || !strings.HasPrefix(string(yaml), "openapi:") {
			t.Fatalf("openapi.yaml with a session: %d", doc.StatusCode)
		}
		if resp, _ := get(t, srv.URL+"/admin/openapi.yaml", "Authorization", "Bearer "+testToken); resp.StatusCode != http.StatusOK {
			t.Fatalf("openapi.yaml with the token: %d", resp.StatusCode)
		}
		anon, err := noRedirect.Get(srv.URL + "/admin/openapi.yaml")
		if err != nil {
			t.Fatal(err)
		}
		anon.Body.Close()
		if anon.StatusCode != http.StatusSeeOther {
			t.Fatalf("openapi.yaml without a session: %d", anon.StatusCode)
		}
	})
}

func TestReadyzWithRedisDown(t *testing.T) {
	t.Parallel()
	srv := startWeb(t, "redis://127.0.0.1:1/0")
	resp, body := get(t, srv.URL+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"redis":"unavailable"`) || !strings.Contains(body, `"postgres":"ok"`) {
		t.Fatalf("readyz %d %s", resp.StatusCode, body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestSlowClientsAreDropped holds a connection open sending headers a byte
// at a time, as a slowloris attack does: the server closes it once its
// header timeout passes, so it cannot hold a connection forever.
func TestSlowClientsAreDropped(t *testing.T) {
	t.Parallel()
	redis := testenv.Redis(t)
	srv := startWeb(t, "redis://"+redis.Addr+"/"+strconv.Itoa(redis.DB))
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(conn) // returns when the server closes the connection
		closed <- err
	}()
	// Dribble a header byte every 500 ms; the server must hang up on its own.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case <-closed:
			return
		case <-tick.C:
			_, _ = conn.Write([]byte("X"))
		case <-deadline:
			t.Fatal("the server kept a slow client's connection for a minute")
		}
	}
}
