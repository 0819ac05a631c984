package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// eventTemplate is a payment_intent.succeeded as Stripe sends it (the shape
// of internal/stripe's fixture, compact, about 1.5 KB), with
// placeholders the load fills in. It names no Stripe invoice, so the
// payment lands on metadata.invoice_id.
const eventTemplate = `{"id":"{EVT}","object":"event","api_version":"2023-10-16","created":{CREATED},` +
	`"data":{"object":{"id":"{PI}","object":"payment_intent","amount":{AMOUNT},"amount_capturable":0,` +
	`"amount_details":{"tip":{}},"amount_received":{AMOUNT},"application":null,"application_fee_amount":null,` +
	`"automatic_payment_methods":{"enabled":true},"canceled_at":null,"cancellation_reason":null,` +
	`"capture_method":"automatic","client_secret":"{PI}_secret_bEnChMaRkSeCrEt0123456789",` +
	`"confirmation_method":"automatic","created":{CREATED},"currency":"usd","customer":"cus_PbEnchCustomer01",` +
	`"description":"Invoice {INV}","invoice":null,"last_payment_error":null,"latest_charge":"ch_{PIS}",` +
	`"livemode":false,"metadata":{"invoice_id":"{INV}","source":"loadgen"},"next_action":null,` +
	`"on_behalf_of":null,"payment_method":"pm_1PbEnchCardVisa0001","payment_method_configuration_details":` +
	`{"id":"pmc_1PbEnchConfig00001","parent":null},"payment_method_options":{"card":{"installments":null,` +
	`"mandate_options":null,"network":null,"request_three_d_secure":"automatic"}},"payment_method_types":["card"],` +
	`"processing":null,"receipt_email":"billing@example.com","review":null,"setup_future_usage":null,` +
	`"shipping":null,"source":null,"statement_descriptor":null,"statement_descriptor_suffix":null,` +
	`"status":"succeeded","transfer_data":null,"transfer_group":null}},"livemode":false,"pending_webhooks":1,` +
	`"request":{"id":"req_{PIS}","idempotency_key":"{KEY}"},"type":"payment_intent.succeeded"}`

// template is eventTemplate cut at its placeholders, so that a body is
// built with appends only.
type template struct {
	parts []string // literal text between the placeholders
	holes []string // the placeholder after each part but the last
}

func parseTemplate(s string) template {
	var t template
	from := 0
	for {
		i := strings.IndexByte(s[from:], '{')
		if i < 0 {
			t.parts = append(t.parts, s)
			return t
		}
		i += from
		hole, ok := holeAt(s[i:])
		if !ok {
			from = i + 1 // a JSON brace, not a placeholder
			continue
		}
		t.parts = append(t.parts, s[:i])
		t.holes = append(t.holes, hole)
		s, from = s[i+len(hole)+2:], 0
	}
}

// holeAt reports the placeholder s starts with, if any.
func holeAt(s string) (string, bool) {
	for _, h := range []string{"EVT", "CREATED", "PIS", "PI", "AMOUNT", "INV", "KEY"} {
		if strings.HasPrefix(s, "{"+h+"}") {
			return h, true
		}
	}
	return "", false
}

var eventParts = parseTemplate(eventTemplate)

// event is one PaymentIntent's succeeded event.
type event struct {
	id, paymentIntent, invoiceID string
	amount                       int64
}

// newEvent makes an event of a new PaymentIntent, with ids shaped like
// Stripe's (random, so that the inbox's primary key sees Stripe's pattern).
func newEvent(invoiceID string, amount int64) event {
	suffix := randomID(24)
	return event{id: "evt_3" + suffix, paymentIntent: "pi_3" + suffix, invoiceID: invoiceID, amount: amount}
}

// body renders the event's JSON.
func (e event) body(created time.Time) []byte {
	b := make([]byte, 0, len(eventTemplate)+128)
	for i, p := range eventParts.parts {
		b = append(b, p...)
		if i == len(eventParts.holes) {
			break
		}
		switch eventParts.holes[i] {
		case "EVT":
			b = append(b, e.id...)
		case "CREATED":
			b = strconv.AppendInt(b, created.Unix(), 10)
		case "PI":
			b = append(b, e.paymentIntent...)
		case "PIS":
			b = append(b, e.paymentIntent[3:]...)
		case "AMOUNT":
			b = strconv.AppendInt(b, e.amount, 10)
		case "INV":
			b = append(b, e.invoiceID...)
		case "KEY":
			b = append(b, e.id[4:]...)
		}
	}
	return b
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomID(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[rand.IntN(len(idAlphabet))]
	}
	return string(b)
}

// signer signs bodies as Stripe does (stripe-go's own test signer).
type signer struct{ secret string }

func (s signer) header(body []byte, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: s.secret, Timestamp: at}).Header
}

// conn is one sender's keep-alive connection to the service, used by that
// sender's goroutine alone: each request is written and its answer read in
// that goroutine, with net/http's own request writer and response reader.
// net/http's Transport hands each request to a connection's write and read
// goroutines and back: on the two cores the bench measures, that cost the
// load generator about 40 µs of CPU an event, more than PostgreSQL spent
// storing it.
type conn struct {
	addr string // host:port
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

// requestTimeout bounds one request, its answer read to the end.
const requestTimeout = 30 * time.Second

// newConns returns n senders' connections to base, each dialled at its
// first request.
func newConns(base string, n int) ([]*conn, error) {
	u, err := neturl.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("BENCH_URL %q is not an http://host:port address", base)
	}
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = &conn{addr: u.Host}
	}
	return conns, nil
}

func closeConns(conns []*conn) {
	for _, c := range conns {
		c.close()
	}
}

// do sends req, reads its answer to the end and returns its status. A
// connection that failed, or that the service closes, is dialled anew on
// the next request.
func (c *conn) do(req *http.Request) (int, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.c, c.r, c.w = nc, bufio.NewReaderSize(nc, 4096), bufio.NewWriterSize(nc, 4096)
	}
	status, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		c.close()
	}
	return status, err
}

func (c *conn) roundTrip(req *http.Request) (status int, keep bool, err error) {
	if err := c.c.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		return 0, false, err
	}
	// The bench stopped: the request ends now, its connection with it.
	nc := c.c
	defer context.AfterFunc(req.Context(), func() { _ = nc.SetDeadline(time.Unix(1, 0)) })()
	if err := req.Write(c.w); err != nil {
		return 0, false, err
	}
	if err := c.w.Flush(); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(c.r, req)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, err == nil && !resp.Close, err
}

func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c = nil
	}
}

// postSigned posts a body with its Stripe-Signature header and returns the
// status.
func postSigned(ctx context.Context, c *conn, url, header string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", header)
	return c.do(req)
}

// cmdSampleEvent prints one body, for pgbench to insert the same bytes.
func cmdSampleEvent(_ context.Context, args []string) error {
	if err := flags("sample-event").Parse(args); err != nil {
		return err
	}
	fmt.Printf("%s\n", newEvent("binv_sample", 2000).body(time.Now()))
	return nil
}
