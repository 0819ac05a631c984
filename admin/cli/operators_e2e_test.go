package cli_test

import (
	"encoding/csv"
	"regexp"
	"strings"
	"testing"
)

func TestOperatorsFromTheCLI(t *testing.T) {
	t.Parallel()
	admin := newOperator(t)

	out := admin.ok("operators", "create", "--name", "cleo", "--role", "viewer")
	contains(t, out, "operator cleo", "viewer", "shown once")
	key := regexp.MustCompile(`key (rk_\S+)`).FindStringSubmatch(out)
	if key == nil {
		t.Fatalf("no key in:\n%s", out)
	}
	viewer := operator{t: t, env: map[string]string{"RECONCILER_URL": admin.env["RECONCILER_URL"], "RECONCILER_KEY": key[1]}}

	t.Run("an operator's key in RECONCILER_KEY is used instead of ADMIN_TOKEN", func(t *testing.T) {
		viewer.t = t
		contains(t, viewer.ok("invoices", "list"), "no invoices")
	})
	t.Run("a viewer's write is refused with forbidden_role", func(t *testing.T) {
		viewer.t = t
		viewer.fails(1, "error: forbidden_role: ", "invoices", "create", "--number", "V-1", "--client", "c", "--currency", "usd", "--amount", "1")
		viewer.fails(1, "error: forbidden_role: ", "operators", "list")
	})
	t.Run("the admin lists the operators without their keys", func(t *testing.T) {
		admin.t = t
		out := admin.ok("operators", "list")
		contains(t, out, "NAME", "cleo", "viewer", "admin")
		if strings.Contains(out, key[1]) {
			t.Fatal("the listing shows a key")
		}
	})
	t.Run("a revoked key stops working at once", func(t *testing.T) {
		admin.t, viewer.t = t, t
		id := regexp.MustCompile(`\((op_\S+),`).FindStringSubmatch(out)
		if id == nil {
			t.Fatalf("no operator id in:\n%s", out)
		}
		contains(t, admin.ok("operators", "revoke", id[1]), "revoked operator "+id[1])
		viewer.fails(1, "error: unauthorized: ", "invoices", "list")
	})
}

func TestRefusalsInTheOperatorsUnits(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.ok("invoices", "create", "--id", "inv_units", "--number", "U-1", "--client", "Acme", "--currency", "usd", "--amount", "1000")
	op.ok("invoices", "send", "inv_units")
	op.ok("payments", "record", "inv_units", "--amount", "850.99", "--wait")
	op.fails(1, "error: overpayment: payment of 1000.00 usd exceeds what is unpaid on invoice inv_units (149.01 usd)",
		"payments", "record", "inv_units", "--amount", "1000")
}

func TestReportsFromTheCLI(t *testing.T) {
	t.Parallel()
	op := newOperator(t)
	op.ok("invoices", "create", "--id", "inv_rep", "--number", "=SUM(A1)", "--client", "Acme, Inc.", "--currency", "usd",
		"--amount", "100", "--due-date", "2024-01-31")
	op.ok("invoices", "send", "inv_rep")
	op.ok("payments", "record", "inv_rep", "--amount", "25.50", "--date", "2024-02-10", "--wait")

	t.Run("reports aging shows the buckets in major units", func(t *testing.T) {
		op.t = t
		out := op.ok("reports", "aging", "--as-of", "2024-03-15")
		contains(t, out, "as of 2024-03-15", "31-60 DAYS", "74.50")
	})
	t.Run("reports movements writes the CSV to stdout", func(t *testing.T) {
		op.t = t
		out := op.ok("reports", "movements", "--from", "2024-02-01", "--to", "2024-02-29")
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, out)
		}
		if len(rows) != 2 || strings.Join(rows[1][:8], "|") != "2024-02-10|inv_rep|'=SUM(A1)|Acme, Inc.|usd|payment|2550|manual" ||
			rows[1][9] != "admin" {
			t.Fatalf("rows %q", rows)
		}
	})
	t.Run("a range with nothing in it is the header alone", func(t *testing.T) {
		op.t = t
		if out := op.ok("reports", "movements", "--from", "2023-01-01", "--to", "2023-12-31"); out != "date,invoice_id,number,client,currency,kind,amount,source,reference,actor\n" {
			t.Fatalf("output %q", out)
		}
	})
}
