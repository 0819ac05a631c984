package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// hangingReceiver is a notification receiver that accepts every connection
// and never answers: each request is held until the run ends (or its
// sender gives up). It stands for a customer's endpoint that hangs, which
// must not delay the ledger's own work.
type hangingReceiver struct {
	url      string
	srv      *http.Server
	release  chan struct{}
	once     sync.Once
	requests atomic.Int64 // requests received
}

// startReceiver listens on a free loopback port.
func startReceiver() (*hangingReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hanging receiver: %w", err)
	}
	r := &hangingReceiver{url: "http://" + ln.Addr().String() + "/hooks", release: make(chan struct{})}
	r.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		select {
		case <-r.release:
		case <-req.Context().Done(): // the sender gave up
		}
	})}
	go func() { _ = r.srv.Serve(ln) }() // returns ErrServerClosed on close
	return r, nil
}

// close lets every held request go and stops the server.
func (r *hangingReceiver) close() {
	r.once.Do(func() {
		close(r.release)
		_ = r.srv.Close()
	})
}

// registerReceiver subscribes the hanging receiver to every notification,
// through the admin API, as an operator would: cfg.HangingEndpoints
// endpoints, each its own URL on it, as several customers' systems that
// hang at once would be.
func (d *driver) registerReceiver(ctx context.Context) error {
	for i := range d.cfg.HangingEndpoints {
		url := fmt.Sprintf("%s/%d", d.recv.url, i+1)
		body, err := json.Marshal(map[string]any{"url": url, "description": "chaos: a receiver that never answers"})
		if err != nil {
			return err
		}
		_, b, err := d.adminOK(ctx, 30*time.Second, http.MethodPost, "/admin/endpoints", body, http.StatusCreated)
		if err != nil {
			return fmt.Errorf("register the hanging receiver: %w", err)
		}
		var ep struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal(b, &ep); err != nil || ep.ID == "" || ep.Secret == "" {
			return fmt.Errorf("register the hanging receiver: no endpoint and secret in the answer")
		}
		d.recvSecrets = append(d.recvSecrets, ep.Secret) // no log may show them
		d.cfg.logf("hanging receiver %s registered as endpoint %s", url, ep.ID)
	}
	return nil
}
