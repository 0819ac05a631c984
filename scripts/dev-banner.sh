#!/usr/bin/env bash
# Prints, for make run, the development secrets and ready-to-paste commands:
# the CLI's, which wait for their jobs, then the same with curl, showing how
# to follow a job to its end.
set -euo pipefail
base="http://localhost:${PORT:-8080}"
inv="inv_demo_$(date +%s)"
cat <<BANNER

  reconciler (development) on ${base}
    ADMIN_TOKEN=${ADMIN_TOKEN}
    STRIPE_WEBHOOK_SECRET=${STRIPE_WEBHOOK_SECRET}

  Try it (paste into another terminal; money changes are jobs, and --wait
  follows each to its end, then shows the balance):

    export ADMIN_TOKEN=${ADMIN_TOKEN} RECONCILER_URL=${base}
    R="bin/reconciler admin"
    # an invoice of 100.00 USD, due in a week, sent
    \$R invoices create --id ${inv} --number F-1001 --client Acme --currency usd --amount 100.00 \\
      --due-date \$(date -u -d '+7 days' +%F 2>/dev/null || date -u -v+7d +%F)
    \$R invoices send ${inv}
    # a partial payment of 40.00; the job's result names the payment
    PAY=\$(\$R payments record ${inv} --amount 40.00 --method bank_transfer --wait \\
      | tee /dev/stderr | grep -o '"payment_id":"[^"]*"' | cut -d'"' -f4)
    \$R invoices show ${inv}           # payments, and history with who did what
    \$R payments delete ${inv} \$PAY --wait   # recorded in error: the balance grows back
    \$R payments record ${inv} --amount 40.00 --wait
    \$R write-off ${inv} --notes "client insolvent" --wait
    \$R invoices list --state written_off
    \$R reopen ${inv} --wait           # reverses the write-off
    \$R reports summary                # this month's money per currency
    \$R reports aging                  # open balances by days past due
    \$R reports movements > movements.csv && cat movements.csv   # every movement of this month
    \$R events list                    # Stripe events, and those waiting for a person
    # a key of its own for a colleague who only looks (shown once)
    \$R operators create --name viewer.demo --role viewer

  The same with curl; a job answers 202 at once, then GET /admin/jobs/ID
  says when it has finished:

    curl -s -X POST ${base}/admin/invoices/${inv}/payments -H "Authorization: Bearer \$ADMIN_TOKEN" \\
      -H "Idempotency-Key: ${inv}-pay-9" -d '{"amount":1000,"method":"check"}' | tee job.json
    JOB=\$(grep -o '"id": *"job_[^"]*"' job.json | cut -d'"' -f4)
    until curl -s ${base}/admin/jobs/\$JOB -H "Authorization: Bearer \$ADMIN_TOKEN" \\
      | grep -Eq '"status":"(succeeded|failed)"'; do sleep 0.2; done
    curl -s ${base}/admin/jobs/\$JOB -H "Authorization: Bearer \$ADMIN_TOKEN" | tee job.json  # its result names the payment
    PAY=\$(grep -o '"payment_id": *"[^"]*"' job.json | cut -d'"' -f4)
    curl -s -X DELETE ${base}/admin/invoices/${inv}/payments/\$PAY -H "Authorization: Bearer \$ADMIN_TOKEN"
    curl -s "${base}/admin/events?status=unmatched" -H "Authorization: Bearer \$ADMIN_TOKEN"

  In a browser: ${base}/admin/ui/ (log in with the ADMIN_TOKEN above, or an
  operator's key); queues at ${base}/admin/queues/, the API's OpenAPI at
  ${base}/admin/openapi.yaml (the same login)

  Stripe CLI: stripe listen --forward-to ${base}/webhooks/stripe
    (then run with STRIPE_WEBHOOK_SECRET set to the whsec_ it prints)

BANNER
