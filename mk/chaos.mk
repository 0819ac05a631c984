# make chaos: the fault suite (internal/testing/chaos, internal/testing/cmd/chaos). It starts its own
# PostgreSQL and Redis, runs two web processes, two workers and a scheduler,
# drives webhooks and operators at them for CHAOS_DURATION while killing and
# restarting each part, then checks that nothing acknowledged was lost or
# doubled, that no invoice drifted, and that no log holds a secret. It prints
# "name value" figures and fails on any loss, double, drift or leak.
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
