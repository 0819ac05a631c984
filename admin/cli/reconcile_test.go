package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReconciliationCommands(t *testing.T) {
	st, url := newStub(t)
	env := map[string]string{"ADMIN_TOKEN": "t", "RECONCILER_URL": url}
	st.answer("GET /admin/discrepancies", 200, `{"discrepancies":[
		{"id":"dsc_1","kind":"amount_mismatch","invoice_id":"inv_1","provider_ref":"pi_1","currency":"usd",
		 "ledger_amount":3000,"stripe_amount":2900,"detail":"the ledger recorded more","status":"open",
		 "found_at":"2026-11-30T10:00:00Z","last_seen_run":"run_1","resolved_at":null,"resolution_notes":"","actor":null},
		{"id":"dsc_2","kind":"missing_in_ledger","invoice_id":null,"provider_ref":"pi_2","currency":"jpy",
		 "ledger_amount":null,"stripe_amount":500,"detail":"names no invoice","status":"open",
		 "found_at":"2026-11-30T09:00:00Z","last_seen_run":"run_1","resolved_at":null,"resolution_notes":"","actor":null}],
		"next_cursor":"abc"}`)
	st.answer("POST /admin/discrepancies/dsc_1/resolve", 200, `{"id":"dsc_1","kind":"amount_mismatch","provider_ref":"pi_1",
		"status":"resolved","actor":"admin"}`)
	st.answer("POST /admin/events/evt_1/resolve", 202, `{"id":"job_1","type":"event.ignore","status":"queued"}`)
	st.answer("GET /admin/reconcile/runs", 200, `{"runs":[{"id":"run_1","full":true,"status":"succeeded",
		"started_at":"2026-11-30T10:00:00Z","finished_at":"2026-11-30T10:00:05Z","steps":{
		"relay":{"events_relayed":0,"unmatched_retried":0},"stripe_pull":{"skipped":"no STRIPE_API_KEY"},
		"ledger":{"scope":"all","checked":12,"drift_found":1,"repaired":1},
		"stripe_compare":{"scope":"window","listed":9,"compared":8,"pulled":1,"found":2,"opened":2,"closed":1}}}]}`)

	t.Run("discrepancies list shows both figures in major units, none where a side has no payment", func(t *testing.T) {
		r := runCLI(env, "discrepancies", "list", "--kind", "amount_mismatch")
		req, _ := st.last()
		if r.code != 0 || req.URL.Query().Get("kind") != "amount_mismatch" {
			t.Fatalf("%+v, query %q", r, req.URL.RawQuery)
		}
		for _, want := range []string{"30.00 usd", "29.00 usd", "none", "500 jpy", "inv_1", "next page: --cursor abc"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %q in:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("discrepancies resolve sends the notes, and needs them", func(t *testing.T) {
		if r := runCLI(env, "discrepancies", "resolve", "dsc_1"); r.code != 2 || !strings.Contains(r.stderr, "--notes is required") {
			t.Fatalf("without notes: %+v", r)
		}
		r := runCLI(env, "discrepancies", "resolve", "dsc_1", "--notes", "fee at source")
		_, body := st.last()
		if r.code != 0 || body != `{"notes":"fee at source"}` || !strings.Contains(r.stdout, "resolved by admin") {
			t.Fatalf("%+v, body %s", r, body)
		}
	})
	t.Run("events resolve takes one of --ignore and --apply", func(t *testing.T) {
		for _, args := range [][]string{{"evt_1"}, {"evt_1", "--ignore", "--apply", "inv_1", "--notes", "x"}, {"evt_1", "--ignore"}} {
			if r := runCLI(env, append([]string{"events", "resolve"}, args...)...); r.code != 2 {
				t.Errorf("%v: %+v", args, r)
			}
		}
		r := runCLI(env, "events", "resolve", "evt_1", "--ignore", "--notes", "a test", "--idempotency-key", "k1")
		req, body := st.last()
		var got map[string]string
		_ = json.Unmarshal([]byte(body), &got)
		if r.code != 0 || got["action"] != "ignore" || got["notes"] != "a test" || req.Header.Get("Idempotency-Key") != "k1" ||
			!strings.Contains(r.stdout, "job job_1") {
			t.Fatalf("%+v, body %s", r, body)
		}
		r = runCLI(env, "events", "resolve", "evt_1", "--apply", "inv_9")
		_, body = st.last()
		got = nil
		_ = json.Unmarshal([]byte(body), &got)
		if r.code != 0 || got["action"] != "apply" || got["invoice_id"] != "inv_9" {
			t.Fatalf("%+v, body %s", r, body)
		}
	})
	t.Run("runs list says what each run found and did", func(t *testing.T) {
		r := runCLI(env, "runs", "list")
		for _, want := range []string{"run_1", "full", "12 checked, 1 drifted, 1 repaired",
			"8 Stripe payments compared, 1 pulled, 2 discrepancies opened, 1 closed"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %q in:\n%s", want, r.stdout)
			}
		}
	})
}
