#!/usr/bin/env bash
# fuzz.sh - every fuzz target (each func Fuzz... of a _test.go file) for FUZZTIME on top of
# its kept corpus (make fuzz; make test runs it). One target at a time: go test fuzzes one per
# run. A failing input is written to testdata/fuzz/<target>, to be kept with its fix.
#
# A run that fails with only "context deadline exceeded" as FUZZTIME ends, no failing input
# written, is Go's own fuzz coordinator racing its deadline (go.dev/issue/75804, fixed in Go
# 1.27; this module builds with 1.26): that target runs once more, and fails if it fails again.
# Any other failure fails at once.
#
# Environment: GO [go], FUZZTIME [3s].
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3s}

# deadline_flake OUTPUT: whether a failed run's output is the coordinator's deadline race.
deadline_flake() {
	grep -q '^    context deadline exceeded$' <<<"$1" &&
		! grep -q -e 'Failing input written' -e '^panic:' -e '_test\.go:[0-9]*:' <<<"$1"
}

fuzz_once() {
	"$GO" test -run='^$' -fuzz="^$1\$" -fuzztime="$FUZZTIME" "./$2" 2>&1
}

for file in $(git grep -l '^func Fuzz' -- '*_test.go'); do
	dir=$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz $target in ./$dir for $FUZZTIME"
		if ! out=$(fuzz_once "$target" "$dir"); then
			if ! deadline_flake "$out"; then
				printf '%s\n' "$out"
				exit 1
			fi
			echo "fuzz $target: only Go's fuzztime deadline race (go.dev/issue/75804); once more"
			out=$(fuzz_once "$target" "$dir") || {
				printf '%s\n' "$out"
				exit 1
			}
		fi
		printf '%s\n' "$out" | tail -n 1
	done
done
