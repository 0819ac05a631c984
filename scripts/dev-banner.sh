#!/usr/bin/env bash
# Prints, for make run, the development secrets and ready-to-paste curls.
set -euo pipefail
base="http://localhost:${PORT:-8080}"
inv="inv_demo_$(date +%s)"
cat <<BANNER

  reconciler (development) on ${base}
    ADMIN_TOKEN=${ADMIN_TOKEN}
    STRIPE_WEBHOOK_SECRET=${STRIPE_WEBHOOK_SECRET}

  Try it (paste into another terminal):

    export ADMIN_TOKEN=${ADMIN_TOKEN}
    # create an invoice of 100.00 USD and send it
    curl -s -X POST ${base}/admin/invoices -H "Authorization: Bearer \$ADMIN_TOKEN" \\
      -d '{"id":"${inv}","number":"F-1001","client":"Acme","currency":"usd","amount":10000}'
    curl -s -X POST ${base}/admin/invoices/${inv}/send -H "Authorization: Bearer \$ADMIN_TOKEN"
    # record a partial payment of 40.00 (a job: 202, then see it with GET /admin/jobs/ID)
    curl -s -X POST ${base}/admin/invoices/${inv}/payments -H "Authorization: Bearer \$ADMIN_TOKEN" \\
      -H "Idempotency-Key: ${inv}-pay-1" -d '{"amount":4000,"method":"bank_transfer"}'
    curl -s ${base}/admin/invoices/${inv} -H "Authorization: Bearer \$ADMIN_TOKEN"
    # write off the rest, then find it among the written-off invoices
    curl -s -X POST ${base}/admin/invoices/${inv}/write-off -H "Authorization: Bearer \$ADMIN_TOKEN" \\
      -H "Idempotency-Key: ${inv}-wo" -d '{"notes":"client insolvent"}'
    curl -s "${base}/admin/invoices?state=written_off" -H "Authorization: Bearer \$ADMIN_TOKEN"

  In a browser: ${base}/admin/ui/ (log in with the ADMIN_TOKEN above);
  queues at ${base}/admin/queues/, the API's OpenAPI at ${base}/admin/openapi.yaml

  The same from the CLI: ADMIN_TOKEN=... bin/reconciler admin invoices list --state written_off
  Stripe CLI: stripe listen --forward-to ${base}/webhooks/stripe
    (then run with STRIPE_WEBHOOK_SECRET set to the whsec_ it prints)

BANNER
