# make chaos: the fault suite (internal/testing/chaos, internal/testing/cmd/chaos). It starts its own
# PostgreSQL and Redis, runs two web processes, two workers and a scheduler,
# drives webhooks (payments, and events of types the service ignores) and
# operators at them for CHAOS_DURATION while killing and restarting each part
# and stalling PostgreSQL and Redis (SIGSTOP for 15 s), with a notification
# receiver that never answers subscribed throughout; then it checks that
# nothing acknowledged was lost or doubled, that no invoice drifted, that no
# log holds a secret and that every webhook was answered within 15 s. It
# prints "name value" figures (among them the longest webhook answer and the
# time from a payment's 200 to its invoice reading paid) and fails on any
# loss, double, drift, leak or slow answer.
#
#   make chaos                      # two minutes
#   make chaos CHAOS_DURATION=10m   # longer
#   make chaos CHAOS_FLAGS=-keep    # keep logs and data after a clean run

CHAOS_DURATION ?= 2m
CHAOS_FLAGS    ?=

.PHONY: chaos

chaos: build
	$(GO) build -o $(BIN)/chaos ./internal/testing/cmd/chaos
	CHAOS_DURATION=$(CHAOS_DURATION) $(BIN)/chaos -bin $(BIN)/reconciler $(CHAOS_FLAGS)
