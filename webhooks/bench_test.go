package webhooks_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/webhooks"
)

// BenchmarkVerify checks the signature of a realistic event with two
// secrets configured, as during a rotation: signed with the first, only one
// HMAC is computed; signed with the second, both are.
func BenchmarkVerify(b *testing.B) {
	payload := fixture(b, "invoice.paid.json")
	secrets := []string{"whsec_test_previous", secret}
	for _, bc := range []struct{ name, signer string }{
		{"signed with the first secret", secrets[0]},
		{"signed with the second secret", secrets[1]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			header := sign(payload, bc.signer, time.Now())
			verify := webhooks.NewVerifier(secrets, webhooks.DefaultTolerance)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if err := verify(payload, header, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIngest posts distinct signed events from 64 concurrent senders
// (on two cores) through the handler into PostgreSQL: each op is one event
// acknowledged after its commit. It reports events per transaction, the
// group commit's gain.
func BenchmarkIngest(b *testing.B) {
	event := fixture(b, "payment_intent.succeeded.json")
	oldID := []byte(`"evt_3OrTestPaySucc01"`)
	if !bytes.Contains(event, oldID) {
		b.Fatal("the fixture changed: no event id to replace")
	}
	store, _ := testenv.Store(b)
	h := webhooks.New(webhooks.Config{Secrets: []string{secret}}, store, &recordingEnqueuer{}, zap.NewNop())
	defer h.Close()
	var seq atomic.Int64
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf(`"evt_bench_%s_%d"`, run, seq.Add(1))
			body := bytes.Replace(event, oldID, []byte(id), 1)
			if w := post(h, body, sign(body, secret, time.Now())); w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.StopTimer()
	s := h.Stats()
	if s.Batches > 0 {
		b.ReportMetric(float64(s.New)/float64(s.Batches), "events/tx")
	}
}
