# The two commands a newcomer needs: `make run` and `make test`.
# Both start PostgreSQL and Redis when nothing answers (scripts/services.sh).

GO        ?= go
BIN       := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
STRIPE_MOCK_VERSION := v0.203.0
STATICCHECK_VERSION := v0.6.1

# Development defaults for make run; never use them in production.
DEV_ADMIN_TOKEN    ?= dev-admin-token-change-me
DEV_WEBHOOK_SECRET ?= whsec_dev_secret_change_me
PORT               ?= 8080

.PHONY: build test fuzz lint run migrate services stop-services tools clean

build:
	$(GO) build -o $(BIN)/reconciler ./cmd/reconciler

services:
	@scripts/services.sh ensure

stop-services:
	@scripts/services.sh stop

# stripe-mock is a real Stripe API implementation the Stripe pull tests use.
$(BIN)/stripe-mock:
	GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

tools: $(BIN)/stripe-mock $(BIN)/staticcheck

lint: $(BIN)/staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# Every test, with the race detector, against real PostgreSQL and Redis,
# then every benchmark once (make bench relies on them: one that cannot run
# fails here, not in a bench run) and every fuzz target briefly (make fuzz).
# Debian's chromium drives the console's browser test; where it cannot be
# installed that one test skips, saying why.
test: services tools lint
	@scripts/chromium.sh ensure || echo "chromium unavailable: the console's browser test will skip"
	$(GO) test -race -timeout 15m ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x $$(git grep -l '^func Benchmark' -- '*_test.go' | xargs -n1 dirname | sort -u | sed 's|^|./|')
	@$(MAKE) --no-print-directory fuzz

# Every fuzz target briefly, one at a time, on top of its kept corpus
# (scripts/fuzz.sh; a failing input is written to testdata/fuzz/<target>).
FUZZTIME ?= 3s

fuzz: services
	@GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

migrate: services build
	$(BIN)/reconciler migrate

run: services build
	@ADMIN_TOKEN=$${ADMIN_TOKEN:-$(DEV_ADMIN_TOKEN)} STRIPE_WEBHOOK_SECRET=$${STRIPE_WEBHOOK_SECRET:-$(DEV_WEBHOOK_SECRET)} \
		PORT=$(PORT) scripts/dev-banner.sh
	ADMIN_TOKEN=$${ADMIN_TOKEN:-$(DEV_ADMIN_TOKEN)} \
	STRIPE_WEBHOOK_SECRET=$${STRIPE_WEBHOOK_SECRET:-$(DEV_WEBHOOK_SECRET)} \
	NOTIFY_ALLOW_PRIVATE=true STRIPE_LIVEMODE=$${STRIPE_LIVEMODE:-false} LOG_FORMAT=$${LOG_FORMAT:-console} PORT=$(PORT) \
	$(BIN)/reconciler all

clean:
	rm -rf $(BIN)

# Longer suites (make bench, make chaos) live in their own files.
include $(wildcard mk/*.mk)
