package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/worker"
)

// TestRedisCluster: with REDIS_URL naming a Redis Cluster, events and jobs
// are queued, run, relayed and counted as on a single Redis.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	s, _ := testenv.Store(t)
	cluster := testenv.RedisCluster(t)
	ctx := context.Background()
	client := worker.NewClient(cluster, s, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })

	inv, _ := s.CreateInvoice(ctx, reconcile.NewInvoice{Actor: "tester", ID: "inv_cluster", Number: "C", Client: "c", Currency: "usd", Amount: 10000})
	if _, err := s.SendInvoice(ctx, reconcile.Op{Actor: "tester"}, inv.ID); err != nil {
		t.Fatal(err)
	}
	storeEvents(t, s, map[string][]byte{"evt_cluster_1": piSucceeded("evt_cluster_1", "pi_cluster_1", inv.ID, 3000)})
	if err := client.EnqueueEvents(ctx, []string{"evt_cluster_1"}); err != nil {
		t.Fatal(err)
	}
	job, err := client.Submit(ctx, reconcile.NewJob{Actor: "tester", Type: reconcile.JobRecordPayment, InvoiceID: inv.ID,
		Payload: worker.RecordPaymentArgs{InvoiceID: inv.ID, Amount: 2000, PaidDate: reconcile.DateOf(time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, s, client, cluster)
	waitFor(t, func() bool {
		j, _ := s.GetJob(ctx, job.ID)
		ev, _ := s.GetEvent(ctx, "evt_cluster_1")
		return j.Status == reconcile.JobSucceeded && ev.Status == reconcile.EventProcessed
	})

	// An event stored but never queued is relayed through the cluster.
	storeEvents(t, s, map[string][]byte{"evt_cluster_2": piSucceeded("evt_cluster_2", "pi_cluster_2", inv.ID, 1000)})
	n, err := client.Relay(ctx, 0)
	if err != nil || n.Events != 1 {
		t.Fatalf("relayed %+v (%v), want the one received event", n, err)
	}
	waitFor(t, func() bool {
		ev, _ := s.GetEvent(ctx, "evt_cluster_2")
		return ev.Status == reconcile.EventProcessed
	})
	got, _ := s.GetInvoice(ctx, inv.ID)
	if got.PaidAmount != 6000 || got.Balance != 4000 || got.State != reconcile.StatePartial {
		t.Fatalf("invoice paid %d, balance %d, %s; want 6000, 4000, partial", got.PaidAmount, got.Balance, got.State)
	}

	// The queue metrics read a cluster's queues too.
	insp := asynq.NewInspector(cluster)
	defer insp.Close()
	if _, err := insp.GetQueueInfo(worker.QueueEvents); err != nil {
		t.Fatalf("queue info on the cluster: %v", err)
	}
}
