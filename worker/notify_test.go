package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// receiver is the business's system: it verifies each notification's
// signature and keeps the bodies it accepted.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []notificationBody
}

type notificationBody struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Invoice    reconcile.Invoice     `json:"invoice"`
		Payment    *reconcile.Payment    `json:"payment"`
		CreditNote *reconcile.CreditNote `json:"credit_note"`
	} `json:"data"`
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	secret := rc.secret
	rc.mu.Unlock()
	if err := notify.Verify(body, r.Header.Get(notify.SignatureHeader), secret, time.Minute); err != nil {
		rc.t.Errorf("bad signature: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var n notificationBody
	if err := json.Unmarshal(body, &n); err != nil {
		rc.t.Errorf("bad body: %v", err)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, n)
	rc.mu.Unlock()
}

func (rc *receiver) bodies() []notificationBody {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]notificationBody(nil), rc.got...)
}

// notifiedService runs a worker that delivers notifications, with its
// dispatcher, on one database and Redis database.
type notifiedService struct {
	store  *reconcile.Store
	pool   *pgxpool.Pool
	notify *notify.Store
	client *worker.Client
	redis  asynq.RedisClientOpt
	rc     *receiver
}

func newNotifiedService(t *testing.T) *notifiedService {
	s, pool := testenv.Store(t)
	ns := &notifiedService{store: s, pool: pool, notify: notify.NewStore(pool), redis: testenv.Redis(t), rc: &receiver{t: t}}
	ns.client = worker.NewClient(ns.redis, s, zap.NewNop())
	t.Cleanup(func() { _ = ns.client.Close() })
	srv := httptest.NewServer(ns.rc)
	t.Cleanup(srv.Close)
	_, secret, err := ns.notify.CreateEndpoint(context.Background(), srv.URL+"/hooks", nil, "test receiver")
	if err != nil {
		t.Fatal(err)
	}
	ns.rc.secret = secret
	return ns
}

// run starts the worker, delivering notifications, and the dispatcher;
// stop ends both, as a dying process would.
func (ns *notifiedService) run(t *testing.T) (stop func()) {
	t.Helper()
	deliverer := notify.NewDeliverer(ns.notify, notify.NewHTTPClient(true, nil), notify.DelivererConfig{}, zap.NewNop())
	h := worker.NewHandlers(ns.store, ns.client, nil, time.Minute, zap.NewNop()).WithLivemode(false).WithDeliverer(deliverer)
	srv := worker.NewServer(ns.redis, 4, h, zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = notify.Dispatch(ctx, ns.pool, ns.notify, ns.client, zap.NewNop())
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Shutdown()
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestNotificationsOfEveryChange(t *testing.T) {
	t.Parallel()
	ns := newNotifiedService(t)
	stop := ns.run(t)
	defer stop()
	ctx := context.Background()
	inv, _ := ns.store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_ntf", Number: "N", Client: "c", Currency: "usd", Amount: 10000})
	if _, err := ns.store.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatal(err)
	}
	h := newHandlers(t, ns.store)

	steps := []struct {
		name string
		do   func()
		want []string
		// figures of the invoice in the last notification of the step
		paid, writtenOff, balance reconcile.Amount
		state                     reconcile.State
	}{
		{"a manual payment", func() {
			job, err := ns.client.Submit(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobRecordPayment, InvoiceID: inv.ID,
				Payload: worker.RecordPaymentArgs{InvoiceID: inv.ID, Amount: 3000, PaidDate: reconcile.DateOf(time.Now())}})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { j, _ := ns.store.GetJob(ctx, job.ID); return j.Status == reconcile.JobSucceeded })
		}, []string{"invoice.payment_recorded"}, 3000, 0, 7000, reconcile.StatePartial},
		{"a Stripe payment", func() {
			storeEvents(t, ns.store, map[string][]byte{"evt_ntf_pi": piSucceeded("evt_ntf_pi", "pi_ntf", inv.ID, 2000)})
			process(t, h, "evt_ntf_pi")
		}, []string{"invoice.payment_recorded"}, 5000, 0, 5000, reconcile.StatePartial},
		{"a refund", func() {
			storeEvents(t, ns.store, map[string][]byte{"evt_ntf_r": chargeRefunded("evt_ntf_r", "pi_ntf", 2000, 500)})
			process(t, h, "evt_ntf_r")
		}, []string{"invoice.refunded"}, 4500, 0, 5500, reconcile.StatePartial},
		{"a write-off", func() {
			if _, err := ns.store.WriteOff(ctx, reconcile.Op{Key: "wo-ntf", Actor: "tester"}, inv.ID, "gone"); err != nil {
				t.Fatal(err)
			}
		}, []string{"invoice.written_off"}, 4500, 5500, 0, reconcile.StateWrittenOff},
		{"a reopen", func() {
			if _, err := ns.store.Reopen(ctx, reconcile.Op{Key: "reopen-ntf", Actor: "tester"}, inv.ID); err != nil {
				t.Fatal(err)
			}
		}, []string{"invoice.reopened"}, 4500, 0, 5500, reconcile.StatePartial},
		{"a payment of the rest", func() {
			if _, _, err := ns.store.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: "rest-ntf", InvoiceID: inv.ID, Amount: 5500, PaidDate: reconcile.DateOf(time.Now())}); err != nil {
				t.Fatal(err)
			}
		}, []string{"invoice.payment_recorded", "invoice.paid"}, 10000, 0, 0, reconcile.StatePaid},
	}
	seen := 0
	for _, st := range steps {
		st.do()
		waitFor(t, func() bool { return len(ns.rc.bodies()) >= seen+len(st.want) })
		got := ns.rc.bodies()[seen : seen+len(st.want)]
		seen += len(st.want)
		// Notifications of one change are separate deliveries: they may
		// arrive in any order, so they are compared as a set.
		var types []string
		for _, n := range got {
			types = append(types, n.Type)
		}
		slices.Sort(types)
		if want := slices.Sorted(slices.Values(st.want)); !slices.Equal(types, want) {
			t.Fatalf("%s: notified %v, want %v", st.name, types, want)
		}
		shown, err := ns.store.GetInvoice(ctx, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := got[0].Data.Invoice // every notification of the change shows the invoice after it
		if last.PaidAmount != st.paid || last.WrittenOffAmount != st.writtenOff || last.Balance != st.balance || last.State != st.state {
			t.Fatalf("%s: notified invoice %+v, want paid %d written off %d balance %d %s", st.name, last, st.paid, st.writtenOff, st.balance, st.state)
		}
		if last.UpdatedAt != shown.UpdatedAt || last.State != shown.State {
			t.Fatalf("%s: notified invoice differs from what the API shows: %+v vs %+v", st.name, last, shown)
		}
	}
	time.Sleep(100 * time.Millisecond) // nothing more should come
	if n := len(ns.rc.bodies()); n != seen {
		t.Fatalf("%d notifications, want %d", n, seen)
	}
}

// TestNotificationSurvivesWorkerDeathAndRedisLoss commits a change while no
// worker runs, loses Redis, and starts a worker: the notification arrives.
func TestNotificationSurvivesWorkerDeathAndRedisLoss(t *testing.T) {
	t.Parallel()
	ns := newNotifiedService(t)
	ctx := context.Background()
	inv, _ := ns.store.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_ntf2", Number: "N", Client: "c", Currency: "usd", Amount: 10000})
	if _, err := ns.store.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatal(err)
	}
	stop := ns.run(t)
	stop() // the worker dies
	if _, _, err := ns.store.RecordManualPayment(ctx, reconcile.ManualPayment{Actor: "tester", Key: "k", InvoiceID: inv.ID, Amount: 100, PaidDate: reconcile.DateOf(time.Now())}); err != nil {
		t.Fatal(err)
	}
	flushRedis(t, ns.redis)
	defer ns.run(t)()
	waitFor(t, func() bool { return len(ns.rc.bodies()) == 1 })
	if got := ns.rc.bodies()[0]; got.Type != "invoice.payment_recorded" || got.Data.Payment == nil || got.Data.Payment.Amount != 100 {
		t.Fatalf("notification %+v", got)
	}
}
