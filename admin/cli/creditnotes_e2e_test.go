package cli_test

import (
	"encoding/json"
	"testing"
)

// TestCreditNotesFromTheCLI is the operator's story of a credit note:
// issue one in major units, see it on the invoice, be refused above the
// balance in major units, reverse it.
func TestCreditNotesFromTheCLI(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.ok("invoices", "create", "--id", "inv_cn", "--number", "C-1", "--client", "Acme", "--currency", "usd", "--amount", "100.00")
	op.ok("invoices", "send", "inv_cn")
	op.ok("payments", "record", "inv_cn", "--amount", "40", "--wait")

	out := op.ok("credit-notes", "create", "inv_cn", "--amount", "12.50", "--reason", "adjustment", "--notes", "price agreed", "--wait")
	contains(t, out, "credit_note.create", "succeeded", "credit_note_id", "invoice inv_cn: partial, balance 47.50 usd")
	out = op.ok("invoices", "show", "inv_cn")
	contains(t, out, "credited:", "12.50 usd", "credit notes:", "adjustment", "price agreed", "credit_noted", "adjustment: price agreed")
	contains(t, op.ok("invoices", "list"), "CREDITED", "12.50")

	op.fails(1, "error: credit_note_exceeds_balance: credit note of 47.51 usd exceeds what is still due on invoice inv_cn (47.50 usd)",
		"credit-notes", "create", "inv_cn", "--amount", "47.51", "--reason", "discount")
	op.fails(1, "error: overpayment: payment of 47.51 usd exceeds what is unpaid on invoice inv_cn (47.50 usd)",
		"payments", "record", "inv_cn", "--amount", "47.51")
	op.fails(2, "--reason is required", "credit-notes", "create", "inv_cn", "--amount", "1")
	op.fails(2, "--reason must be one of adjustment, refund, discount, other", "credit-notes", "create", "inv_cn", "--amount", "1", "--reason", "goodwill")
	op.fails(2, "too many decimals for usd", "credit-notes", "create", "inv_cn", "--amount", "1.005", "--reason", "other")

	var first struct{ ID string }
	out = op.ok("--json", "credit-notes", "create", "inv_cn", "--amount", "2", "--reason", "discount", "--idempotency-key", "cn-k")
	if err := json.Unmarshal([]byte(out), &first); err != nil || first.ID == "" {
		t.Fatalf("credit-notes create --json: %v: %s", err, out)
	}
	var again struct {
		Job     struct{ ID, Status string } `json:"job"`
		Invoice struct{ Balance int64 }     `json:"invoice"`
	}
	out = op.ok("--json", "credit-notes", "create", "inv_cn", "--amount", "2", "--reason", "discount", "--idempotency-key", "cn-k", "--wait")
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatalf("--wait --json is not JSON: %v: %s", err, out)
	}
	if again.Job.ID != first.ID || again.Job.Status != "succeeded" || again.Invoice.Balance != 4550 {
		t.Fatalf("the same idempotency key again: %+v, first job %s", again, first.ID)
	}

	var d struct {
		CreditNotes []struct {
			ID     string `json:"id"`
			Amount int64  `json:"amount"`
		} `json:"credit_notes"`
	}
	if err := json.Unmarshal([]byte(op.ok("--json", "invoices", "show", "inv_cn")), &d); err != nil || len(d.CreditNotes) == 0 {
		t.Fatalf("invoices show --json: %v %+v", err, d)
	}
	contains(t, op.ok("credit-notes", "reverse", "inv_cn", d.CreditNotes[0].ID, "--wait"),
		"credit_note.reverse", "succeeded", "balance 58.00 usd")
	op.fails(1, "error: credit_note_not_found: ", "credit-notes", "reverse", "inv_cn", d.CreditNotes[0].ID)
	contains(t, op.ok("report", "summary"), "CREDIT-NOTES")
}
