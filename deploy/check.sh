#!/usr/bin/env bash
# check.sh - check the container packaging on a machine without Docker.
#
# Usage: bash deploy/check.sh   (from anywhere in the repository)
#
#   1. runs the Dockerfile's `go build` line itself (read out of the
#      Dockerfile, so the two cannot drift) into a temporary directory;
#   2. checks the binary is statically linked (distroless/static has no libc);
#   3. runs `reconciler --help` from it;
#   4. runs go vet and go test on ./deploy (compose file, Dockerfile, Procfile).
#
# Prints one line per check, then "deploy check: ok"; exits non-zero with the
# failing check's output otherwise. Installs nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockerfile=$root/deploy/Dockerfile

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	printf 'deploy check: FAIL: %s\n' "$*" >&2
	exit 1
}

# run NAME CMD... runs CMD quietly, printing its output only when it fails.
run() {
	local name=$1
	shift
	if ! "$@" >"$tmp/out" 2>&1; then
		cat "$tmp/out" >&2
		fail "$name"
	fi
}

# --- 1. the Dockerfile's build step ----------------------------------------
# Join continuation lines, drop comments, keep the one RUN that runs go build.
mapfile -t builds < <(
	sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" |
		grep -E '^[[:space:]]*RUN[[:space:]].*go build' |
		sed -E 's/^[[:space:]]*RUN[[:space:]]+//'
)
[[ ${#builds[@]} -eq 1 ]] || fail "want exactly one RUN ... go build in deploy/Dockerfile, found ${#builds[@]}"
build=${builds[0]}
# The Dockerfile writes to -o /out/reconciler (an absolute path in the build
# stage); here the output goes to the temporary directory instead.
out=$(sed -nE 's/.*[[:space:]]-o[[:space:]]+([^[:space:]]+).*/\1/p' <<<"$build")
[[ -n $out ]] || fail "the go build line has no -o: $build"
[[ $out == /* && $out != *[!A-Za-z0-9/._-]* ]] || fail "unexpected -o path $out"
bin=$tmp/bin/$(basename "$out")
mkdir -p "$(dirname "$bin")"
local_build=${build/" -o $out "/" -o $bin "}
[[ $local_build != "$build" ]] || fail "could not redirect -o $out in: $build"
# The build stage runs it with WORKDIR /src holding the repository root.
# bash -c, not eval: the line is shell syntax (VAR=x prefixes, quoted -ldflags).
(cd "$root" && run "go build (as deploy/Dockerfile)" bash -c "$local_build")
[[ -x $bin ]] || fail "go build made no $bin"
printf 'ok   build: %s\n' "$build"

# --- 2. statically linked ---------------------------------------------------
if command -v file >/dev/null 2>&1; then
	desc=$(file -b "$bin")
	[[ $desc == *"statically linked"* ]] || fail "binary is not statically linked: $desc"
	printf 'ok   static: file says statically linked\n'
else
	# glibc's ldd exits 1 and says this for a static binary.
	lddout=$(ldd "$bin" 2>&1 || true)
	[[ $lddout == *"not a dynamic executable"* || $lddout == *"statically linked"* ]] ||
		fail "binary is not statically linked: $lddout"
	printf 'ok   static: ldd says not a dynamic executable\n'
fi

# --- 3. the binary runs -----------------------------------------------------
help=$(env -i PATH=/usr/bin:/bin "$bin" --help 2>&1) || fail "reconciler --help exited non-zero: $help"
for sub in migrate web worker scheduler all; do
	grep -qE "^[[:space:]]+${sub}[[:space:]]" <<<"$help" || fail "reconciler --help does not list $sub"
done
printf 'ok   run: reconciler --help lists migrate, web, worker, scheduler, all\n'

# --- 4. the compose file, Dockerfile and Procfile ---------------------------
(cd "$root" && run "go vet ./deploy" go vet ./deploy)
(cd "$root" && run "go test ./deploy" go test -count=1 ./deploy)
printf 'ok   test: go vet + go test ./deploy (compose, Dockerfile, Procfile)\n'

# --- optional: tools that may not be installed ------------------------------
if command -v shellcheck >/dev/null 2>&1; then
	run "shellcheck deploy/check.sh" shellcheck "$root/deploy/check.sh"
	printf 'ok   shellcheck: deploy/check.sh\n'
else
	printf 'skip shellcheck: not installed\n'
fi
if docker compose version >/dev/null 2>&1; then
	run "docker compose config" env ADMIN_TOKEN=check STRIPE_WEBHOOK_SECRET=whsec_check \
		docker compose -f "$root/deploy/docker-compose.yml" config --quiet
	printf 'ok   compose: docker compose config\n'
else
	printf 'skip compose: docker compose not installed (the Go test parses the file)\n'
fi

printf 'deploy check: ok\n'
