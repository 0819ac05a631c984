# make bench: the figures of DESIGN.md "Performance" (scripts/bench.sh), one
# "name value unit" line each on stdout and nothing else there: the services
# and build steps it needs first report on stderr. BENCH_SECONDS,
# BENCH_E2E_SECONDS, BENCH_INVOICES, BENCH_JOBS, BENCH_DB, BENCH_KEEP_DB and
# BENCH_PROFILE tune it; see the script's header (which also names each
# phase's figures, and where the provider comparison goes).

.PHONY: bench

bench:
	@$(MAKE) --no-print-directory services build 1>&2
	@GO=$(GO) scripts/bench.sh
