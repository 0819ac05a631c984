#!/usr/bin/env bash
# chromium.sh - make sure a headless-capable Chromium is installed for the browser tests
# (admin/ui's chromedp test).
#
# Usage:
#   scripts/chromium.sh ensure   # install Debian's chromium when missing (idempotent)
#
# CHROMIUM_PATH, when set, names the browser to use instead of /usr/bin/chromium. Only
# root with apt-get can install; anyone else gets one line saying what to do, and exit 1.
# apt-get's output goes to ${RECONCILER_SERVICES_DIR:-$PWD/.services}/chromium-apt.log.
set -euo pipefail

SVC_DIR=${RECONCILER_SERVICES_DIR:-$PWD/.services}
LOG=$SVC_DIR/chromium-apt.log
BROWSER=${CHROMIUM_PATH:-/usr/bin/chromium}

die() {
	printf 'chromium.sh: %s\n' "$*" >&2
	exit 1
}

ensure() {
	if [[ -x $BROWSER ]]; then
		return 0
	fi
	if [[ -n ${CHROMIUM_PATH:-} ]]; then
		die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"
	fi
	[[ $(id -u) -eq 0 ]] || die "$BROWSER is missing and installing it needs root: run 'apt-get install chromium' as root"
	command -v apt-get >/dev/null 2>&1 || die "$BROWSER is missing and there is no apt-get: install Chromium and set CHROMIUM_PATH"
	mkdir -p "$SVC_DIR"
	# One install at a time: two apt-get runs fight over dpkg's lock.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$SVC_DIR/.chromium.lock"
		flock -w 900 9 || die "timed out waiting for another chromium.sh run"
		[[ -x $BROWSER ]] && return 0
	fi
	printf 'chromium: installing Debian chromium (a few minutes; log %s)\n' "$LOG"
	apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed, see $LOG"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>"$LOG" 2>&1 ||
		die "apt-get install chromium failed, see $LOG"
	[[ -x $BROWSER ]] || die "chromium installed but $BROWSER is missing, see $LOG"
	printf 'chromium: %s\n' "$("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
}

case ${1:-} in
ensure) ensure ;;
*) die "usage: scripts/chromium.sh ensure" ;;
esac
