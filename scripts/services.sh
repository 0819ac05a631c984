#!/usr/bin/env bash
# services.sh - make sure PostgreSQL and Redis are reachable for tests, runs and benchmarks.
#
# Usage:
#   scripts/services.sh ensure   # start whatever is missing (idempotent)
#   scripts/services.sh stop     # stop only the instances this script started in the private dir
#
# Targets come from DATABASE_URL (default postgres://localhost:5432/reconciler?sslmode=disable)
# and REDIS_URL (default redis://localhost:6379/0). Only local hosts (localhost, 127.0.0.1, ::1)
# can be started here. Private instances live in ${RECONCILER_SERVICES_DIR:-$PWD/.services}.
#
# On success at most one line per service is printed on stdout; failures print one line on
# stderr saying what to install or fix, and exit 1.
set -euo pipefail

readonly DEFAULT_DATABASE_URL='postgres://localhost:5432/reconciler?sslmode=disable'
readonly DEFAULT_REDIS_URL='redis://localhost:6379/0'

DATABASE_URL=${DATABASE_URL:-$DEFAULT_DATABASE_URL}
REDIS_URL=${REDIS_URL:-$DEFAULT_REDIS_URL}
SVC_DIR=${RECONCILER_SERVICES_DIR:-$PWD/.services}
PG_DIR=$SVC_DIR/pg
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/postgres.log
REDIS_PIDFILE='' # $SVC_DIR/redis-PORT.pid, set once the port is known
REDIS_LOG=''

APT_UPDATED=0
LOCKED=0

# ---------------------------------------------------------------------------------------------
# helpers

die() {
	printf 'services.sh: %s\n' "$*" >&2
	exit 1
}

say() {
	printf 'services: %s\n' "$*"
}

have() {
	command -v "$1" >/dev/null 2>&1
}

is_root() {
	[[ $(id -u) -eq 0 ]]
}

is_local_host() {
	case $1 in
	localhost | 127.0.0.1 | ::1) return 0 ;;
	*) return 1 ;;
	esac
}

# Address a private instance listens on for the given URL host.
listen_addr() {
	if [[ $1 == "::1" ]]; then printf '::1'; else printf '127.0.0.1'; fi
}

# host:port for messages ([::1]:port for IPv6).
hp() {
	if [[ $1 == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

# Shorten a path under $PWD for messages.
pretty_path() {
	local p=$1
	if [[ $p == "$PWD"/* ]]; then printf '%s' "${p#"$PWD"/}"; else printf '%s' "$p"; fi
}

urldecode() {
	local s=${1//+/ }
	printf '%b' "${s//%/\\x}"
}

# parse_url URL DEFAULT_PORT -> sets URL_USER URL_PASS URL_HOST URL_PORT URL_PATH
parse_url() {
	local url=$1 rest hostport userinfo=
	URL_USER='' URL_PASS='' URL_HOST='' URL_PORT='' URL_PATH=''
	[[ $url == *://* ]] || return 1
	rest=${url#*://}
	rest=${rest%%\?*}
	rest=${rest%%#*}
	hostport=${rest%%/*}
	if [[ $rest == */* ]]; then URL_PATH=${rest#*/}; fi
	if [[ $hostport == *@* ]]; then
		userinfo=${hostport%@*}
		hostport=${hostport##*@}
		URL_USER=$(urldecode "${userinfo%%:*}")
		if [[ $userinfo == *:* ]]; then URL_PASS=$(urldecode "${userinfo#*:}"); fi
	fi
	if [[ $hostport == \[* ]]; then # [ipv6]:port
		URL_HOST=${hostport#\[}
		URL_HOST=${URL_HOST%%\]*}
		URL_PORT=${hostport##*\]}
		URL_PORT=${URL_PORT#:}
	else
		URL_HOST=${hostport%%:*}
		if [[ $hostport == *:* ]]; then URL_PORT=${hostport#*:}; fi
	fi
	URL_HOST=${URL_HOST:-localhost}
	URL_PORT=${URL_PORT:-$2}
	[[ $URL_PORT =~ ^[0-9]+$ ]] || return 1
}

# tcp_open HOST PORT: something accepts TCP connections there.
tcp_open() {
	local t=()
	if have timeout; then t=(timeout 3); fi
	# shellcheck disable=SC2016 # expanded by the inner bash
	${t[@]+"${t[@]}"} bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# Serialise concurrent "ensure"/"stop" runs (several make targets may run in parallel).
# The lock is fd 9: every command that may leave a daemon behind runs with 9>&- so the
# daemon does not inherit (and hold) the lock.
take_lock() {
	[[ $LOCKED -eq 1 ]] && return 0
	mkdir -p "$SVC_DIR"
	if is_root; then chmod 755 "$SVC_DIR"; fi
	if have flock; then
		exec 9>"$SVC_DIR/.lock"
		flock -w 180 9 || die "timed out waiting for another services.sh run (lock $(pretty_path "$SVC_DIR/.lock"))"
	fi
	LOCKED=1
}

apt_install() {
	local log=$SVC_DIR/apt.log
	take_lock
	if [[ $APT_UPDATED -eq 0 ]]; then
		apt-get update -qq >>"$log" 2>&1 9>&- || return 1
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$log" 2>&1 9>&-
}

can_apt_install() {
	is_root && have apt-get
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

PG_HOST='' PG_PORT='' PG_USER='' PG_PASS='' PG_DB=''
PG_NOTES=()
PG_INSTALLED=0

pg_parse() {
	case $DATABASE_URL in
	postgres://* | postgresql://*) ;;
	*) die "DATABASE_URL must look like postgres://[user@]host[:port]/db (got an unsupported form)" ;;
	esac
	parse_url "$DATABASE_URL" 5432 || die "cannot parse host/port from DATABASE_URL"
	PG_HOST=$URL_HOST PG_PORT=$URL_PORT PG_PASS=$URL_PASS
	# Without a user in the URL, libpq and pgx use $PGUSER or the OS user name.
	PG_USER=${URL_USER:-${PGUSER:-$(id -un)}}
	PG_DB=$(urldecode "${URL_PATH%%/*}")
	# Without a database, the server default is the user name.
	PG_DB=${PG_DB:-${PGDATABASE:-$PG_USER}}
}

# Prints up (accepting), starting (answers but not accepting yet) or down.
pg_state() {
	local rc=0
	if have pg_isready; then
		pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 >/dev/null 2>&1 || rc=$?
		case $rc in
		0) echo up ;;
		1) echo starting ;;
		*) echo down ;;
		esac
	elif tcp_open "$PG_HOST" "$PG_PORT"; then
		echo up
	else
		echo down
	fi
}

pg_wait_up() {
	local secs=$1 i
	for ((i = 0; i < secs * 2; i++)); do
		[[ $(pg_state) == up ]] && return 0
		sleep 0.5
	done
	return 1
}

# Port of a Debian cluster VERSION/main.
debian_cluster_port() {
	local ver=$1 port=''
	if have pg_lsclusters; then
		port=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { print $3; exit }')
	fi
	if [[ -z $port && -r /etc/postgresql/$ver/main/postgresql.conf ]]; then
		port=$(sed -nE 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' "/etc/postgresql/$ver/main/postgresql.conf" | tail -1)
	fi
	printf '%s' "${port:-5432}"
}

# Prints the version of the Debian cluster "main" serving $PG_PORT (newest first), if any.
debian_cluster_for_port() {
	local ver
	[[ -d /etc/postgresql ]] || return 1
	have pg_ctlcluster || return 1
	while IFS= read -r ver; do
		[[ -n $ver && -f /etc/postgresql/$ver/main/postgresql.conf ]] || continue
		if [[ $(debian_cluster_port "$ver") == "$PG_PORT" ]]; then
			printf '%s' "$ver"
			return 0
		fi
	done < <(for d in /etc/postgresql/*/; do [[ -d $d ]] && basename "$d"; done | sort -rV)
	return 1
}

# Directory holding postgres/initdb/pg_ctl (newest Debian version first, then $PATH).
pg_bindir() {
	local want=${1:-} d
	if [[ -n $want && -x /usr/lib/postgresql/$want/bin/postgres ]]; then
		printf '%s' "/usr/lib/postgresql/$want/bin"
		return 0
	fi
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
	if [[ -n $d && -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]]; then
		printf '%s' "$d"
		return 0
	fi
	if have postgres && have initdb && have pg_ctl; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	return 1
}

pg_binaries_present() {
	pg_bindir >/dev/null
}

# Run a command as the owner of the private cluster (postgres when we are root).
as_pg_owner() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

private_pg_running() {
	local bindir
	[[ -f $PG_DATA/PG_VERSION ]] || return 1
	bindir=$(pg_bindir "$(cat "$PG_DATA/PG_VERSION")") || return 1
	as_pg_owner "$bindir/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

# Port recorded by the running private cluster (line 4 of postmaster.pid).
private_pg_port() {
	sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true
}

# A freshly installed Debian cluster uses scram for TCP; allow trust on loopback like CI images do.
debian_trust_loopback() {
	local ver=$1 hba=/etc/postgresql/$1/main/pg_hba.conf
	[[ -f $hba ]] || return 0
	if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
		sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
		pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 9>&- || true
		PG_NOTES+=("trust auth on loopback")
	fi
}

pg_start_debian() {
	local ver=$1 out
	if ! out=$(pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>&1 9>&-); then
		die "pg_ctlcluster $ver main start failed: $(printf '%s' "$out" | tail -1) (see /var/log/postgresql/postgresql-$ver-main.log)"
	fi
}

pg_start_private() {
	local bindir ver sockdir listen out
	bindir=$(pg_bindir) || pg_cannot_start
	[[ $PG_DIR != *"'"* ]] || die "private dir path must not contain a single quote: $PG_DIR"
	if is_root; then
		have runuser || die "running as root needs runuser (util-linux) to start PostgreSQL as the postgres user"
		id -u postgres >/dev/null 2>&1 ||
			die "running as root without a 'postgres' OS user: install Debian's postgresql package (apt-get install postgresql) or run as a normal user"
	fi
	mkdir -p "$PG_DIR"
	if is_root; then chown -R postgres: "$PG_DIR"; fi
	if ! as_pg_owner test -w "$PG_DIR"; then
		die "$(pretty_path "$PG_DIR") is not writable by the postgres user (a parent directory is not traversable): set RECONCILER_SERVICES_DIR to e.g. /tmp/reconciler-services"
	fi

	if [[ -f $PG_DATA/PG_VERSION ]]; then
		ver=$(cat "$PG_DATA/PG_VERSION")
		bindir=$(pg_bindir "$ver") || die "$(pretty_path "$PG_DATA") was created by PostgreSQL $ver whose binaries are missing: remove it or install postgresql-$ver"
		if private_pg_running; then
			die "private PostgreSQL in $(pretty_path "$PG_DATA") already runs on port $(private_pg_port), not $PG_PORT: run scripts/services.sh stop first"
		fi
	else
		rm -rf "$PG_DATA"
		if ! out=$(as_pg_owner "$bindir/initdb" -D "$PG_DATA" --auth=trust -U postgres -E UTF8 --locale=C --no-sync 2>&1); then
			printf '%s\n' "$out" >"$PG_DIR/initdb.log"
			die "initdb failed: $(printf '%s' "$out" | tail -1) (see $(pretty_path "$PG_DIR/initdb.log"))"
		fi
		PG_NOTES+=("initdb $(pretty_path "$PG_DATA")")
	fi

	# Unix socket paths are limited to ~107 bytes; go TCP-only if the private dir is too deep.
	sockdir=$PG_DIR
	if ((${#sockdir} + 16 > 100)); then sockdir=''; fi
	listen=$(listen_addr "$PG_HOST")
	if ! out=$(as_pg_owner "$bindir/pg_ctl" start -w -t 30 -D "$PG_DATA" -l "$PG_LOG" \
		-o "-p $PG_PORT -c listen_addresses=$listen -c max_connections=200 -k '$sockdir'" 2>&1 9>&-); then
		die "pg_ctl start failed: $(printf '%s' "$out" | tail -1) (see $(pretty_path "$PG_LOG"))"
	fi
	PG_HOST_STARTED=$listen
}

# Admin psql for clusters we can administer; prints nothing and fails when we cannot.
PG_ADMIN=()
pg_pick_admin() {
	local psql_bin
	PG_ADMIN=()
	psql_bin=$(command -v psql || true)
	if [[ -z $psql_bin ]]; then
		psql_bin=$(pg_bindir 2>/dev/null)/psql || true
		[[ -x $psql_bin ]] || return 1
	fi
	if private_pg_running && [[ $(private_pg_port) == "$PG_PORT" ]]; then
		PG_ADMIN=("$psql_bin" -X -q -At -v ON_ERROR_STOP=1 -h "$(listen_addr "$PG_HOST")" -p "$PG_PORT" -U postgres -d postgres)
		return 0
	fi
	if is_root && have runuser && id -u postgres >/dev/null 2>&1 && debian_cluster_for_port >/dev/null; then
		PG_ADMIN=(runuser -u postgres -- "$psql_bin" -X -q -At -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres)
		return 0
	fi
	return 1
}

pg_url_connects() {
	local psql_bin
	psql_bin=$(command -v psql || true)
	[[ -n $psql_bin ]] || psql_bin=$(pg_bindir 2>/dev/null)/psql || true
	[[ -x $psql_bin ]] || return 2
	PG_CONNECT_ERR=$("$psql_bin" "$DATABASE_URL" -X -q -At -c 'select 1' 2>&1 >/dev/null) && return 0
	return 1
}

# Make sure the URL's role and database exist (when we administer the server), then check.
pg_ensure_access() {
	local rc=0 exists
	pg_url_connects || rc=$?
	[[ $rc -eq 2 ]] && return 0 # no psql client anywhere: nothing to check with
	[[ $rc -eq 0 ]] && return 0
	if pg_pick_admin; then
		exists=$("${PG_ADMIN[@]}" -v r="$PG_USER" <<<"select 1 from pg_roles where rolname = :'r';" 2>/dev/null || true)
		if [[ $exists != 1 ]]; then
			if [[ -n $PG_PASS ]]; then
				"${PG_ADMIN[@]}" -v r="$PG_USER" -v p="$PG_PASS" <<<'create role :"r" login superuser password :'"'"'p'"'"';' >/dev/null 2>&1 ||
					die "cannot create PostgreSQL role $PG_USER"
			else
				"${PG_ADMIN[@]}" -v r="$PG_USER" <<<'create role :"r" login superuser;' >/dev/null 2>&1 ||
					die "cannot create PostgreSQL role $PG_USER"
			fi
			PG_NOTES+=("created role $PG_USER")
		fi
		exists=$("${PG_ADMIN[@]}" -v d="$PG_DB" <<<"select 1 from pg_database where datname = :'d';" 2>/dev/null || true)
		if [[ $exists != 1 ]]; then
			local out
			if ! out=$("${PG_ADMIN[@]}" -v d="$PG_DB" -v r="$PG_USER" <<<'create database :"d" owner :"r";' 2>&1); then
				[[ $out == *"already exists"* ]] || die "cannot create database $PG_DB: $(printf '%s' "$out" | tail -1)"
			else
				PG_NOTES+=("created database $PG_DB")
			fi
		fi
		rc=0
		pg_url_connects || rc=$?
		[[ $rc -eq 0 ]] && return 0
	fi
	die "PostgreSQL at $(hp "$PG_HOST" "$PG_PORT") is up but DATABASE_URL cannot connect ($(printf '%s' "$PG_CONNECT_ERR" | tail -1 | sed 's/^psql: error: //')): create role '$PG_USER'/database '$PG_DB' or allow trust auth for local TCP in pg_hba.conf"
}

pg_cannot_start() {
	die "PostgreSQL is not running at $(hp "$PG_HOST" "$PG_PORT") and cannot be started here: install Debian's postgresql package (apt-get install postgresql) or set DATABASE_URL${1:+ ($1)}"
}

pg_ensure() {
	local state ver what
	PG_HOST_STARTED=''
	pg_parse
	state=$(pg_state)
	if [[ $state == down ]]; then
		is_local_host "$PG_HOST" ||
			die "PostgreSQL is not reachable at $(hp "$PG_HOST" "$PG_PORT") and that host is not local: start it there or set DATABASE_URL"
		take_lock
		state=$(pg_state) # another run may have started it meanwhile
	fi
	if [[ $state != down ]]; then
		what="postgresql already running at $(hp "$PG_HOST" "$PG_PORT")"
		pg_wait_up 30 || die "PostgreSQL at $(hp "$PG_HOST" "$PG_PORT") answers but does not accept connections after 30s"
	else
		# (a) Debian cluster on this port; (b) install the package if binaries are missing;
		# (c) private initdb cluster.
		if is_root && ! pg_binaries_present && ! debian_cluster_for_port >/dev/null; then
			can_apt_install || pg_cannot_start "no PostgreSQL server binaries and no apt-get"
			apt_install postgresql ||
				pg_cannot_start "apt-get install postgresql failed, see $(pretty_path "$SVC_DIR/apt.log")"
			PG_INSTALLED=1
			PG_NOTES+=("installed postgresql")
		fi
		if is_root && ver=$(debian_cluster_for_port); then
			if [[ $PG_INSTALLED -eq 1 ]]; then debian_trust_loopback "$ver"; fi
			if [[ $(pg_state) == down ]]; then
				pg_start_debian "$ver"
				what="started postgresql $ver/main at $(hp "$PG_HOST" "$PG_PORT")"
			else
				what="postgresql $ver/main running at $(hp "$PG_HOST" "$PG_PORT")"
			fi
		elif pg_binaries_present; then
			pg_start_private
			what="started private postgresql at $(hp "$PG_HOST_STARTED" "$PG_PORT")"
		else
			pg_cannot_start
		fi
		pg_wait_up 30 || die "PostgreSQL at $(hp "$PG_HOST" "$PG_PORT") did not accept connections within 30s"
	fi
	pg_ensure_access
	if [[ ${#PG_NOTES[@]} -gt 0 ]]; then
		what+=" ($(
			IFS=,
			printf '%s' "${PG_NOTES[*]}" | sed 's/,/, /g'
		))"
	fi
	say "$what"
}

# ---------------------------------------------------------------------------------------------
# Redis

REDIS_HOST='' REDIS_PORT=''

redis_parse() {
	case $REDIS_URL in
	redis://* | rediss://*) ;;
	*) die "REDIS_URL must look like redis://[user:pass@]host[:port]/db" ;;
	esac
	parse_url "$REDIS_URL" 6379 || die "cannot parse host/port from REDIS_URL"
	REDIS_HOST=$URL_HOST REDIS_PORT=$URL_PORT
	REDIS_PIDFILE=$SVC_DIR/redis-$REDIS_PORT.pid
	REDIS_LOG=$SVC_DIR/redis-$REDIS_PORT.log
	if [[ -n $URL_PASS ]]; then export REDISCLI_AUTH=$URL_PASS; fi
}

# Something speaking Redis answers (PONG, or NOAUTH from a password-protected server).
redis_up() {
	local out t=()
	if have timeout; then t=(timeout 3); fi
	if have redis-cli; then
		out=$(${t[@]+"${t[@]}"} redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) || true
	else
		# shellcheck disable=SC2016 # expanded by the inner bash
		out=$(${t[@]+"${t[@]}"} bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && IFS= read -r -t 2 l <&3 && printf "%s" "$l"' \
			"$REDIS_HOST" "$REDIS_PORT" 2>/dev/null) || true
	fi
	[[ $out == *PONG* || $out == *NOAUTH* ]]
}

redis_wait_up() {
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		redis_up && return 0
		sleep 0.2
	done
	return 1
}

# PID from pidfile $1 if that process is still a redis-server.
private_redis_pid() {
	local pid
	[[ -f $1 ]] || return 1
	pid=$(cat "$1" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if have ps; then
		[[ $(ps -o comm= -p "$pid" 2>/dev/null) == redis-server* ]] || return 1
	fi
	printf '%s' "$pid"
}

redis_cannot_start() {
	die "Redis is not running at $(hp "$REDIS_HOST" "$REDIS_PORT") and cannot be started here: install redis-server (apt-get install redis-server) or set REDIS_URL${1:+ ($1)}"
}

redis_ensure() {
	local listen note='' pid
	redis_parse
	if redis_up; then
		say "redis already running at $(hp "$REDIS_HOST" "$REDIS_PORT")"
		return 0
	fi
	is_local_host "$REDIS_HOST" ||
		die "Redis is not reachable at $(hp "$REDIS_HOST" "$REDIS_PORT") and that host is not local: start it there or set REDIS_URL"
	take_lock
	if redis_up; then
		say "redis already running at $(hp "$REDIS_HOST" "$REDIS_PORT")"
		return 0
	fi
	if ! have redis-server; then
		can_apt_install || redis_cannot_start
		apt_install redis-server || redis_cannot_start "apt-get install redis-server failed, see $(pretty_path "$SVC_DIR/apt.log")"
		have redis-server || redis_cannot_start
		note=' (installed redis-server)'
		# The package may have started its own service.
		if redis_wait_up 3; then
			say "redis running at $(hp "$REDIS_HOST" "$REDIS_PORT")$note"
			return 0
		fi
	fi
	if pid=$(private_redis_pid "$REDIS_PIDFILE"); then
		die "private redis (pid $pid, $(pretty_path "$REDIS_PIDFILE")) runs but does not answer at $(hp "$REDIS_HOST" "$REDIS_PORT"): run scripts/services.sh stop first"
	fi
	listen=$(listen_addr "$REDIS_HOST")
	rm -f "$REDIS_PIDFILE"
	redis-server --daemonize yes --bind "$listen" --port "$REDIS_PORT" --save "" --appendonly no \
		--dir "$SVC_DIR" --logfile "$REDIS_LOG" --pidfile "$REDIS_PIDFILE" >/dev/null 2>&1 9>&- ||
		die "redis-server failed to start (see $(pretty_path "$REDIS_LOG"))"
	redis_wait_up 10 || die "redis-server did not answer PING at $(hp "$listen" "$REDIS_PORT") within 10s (see $(pretty_path "$REDIS_LOG"))"
	say "started redis at $(hp "$listen" "$REDIS_PORT")$note"
}

# ---------------------------------------------------------------------------------------------
# stop: only what lives in the private dir

pg_stop_private() {
	local ver bindir out port
	[[ -f $PG_DATA/PG_VERSION ]] || return 0
	private_pg_running || return 0
	port=$(private_pg_port)
	ver=$(cat "$PG_DATA/PG_VERSION")
	bindir=$(pg_bindir "$ver") || die "cannot stop private PostgreSQL: binaries for version $ver not found"
	out=$(as_pg_owner "$bindir/pg_ctl" stop -m fast -w -t 30 -D "$PG_DATA" 2>&1) ||
		die "pg_ctl stop failed: $(printf '%s' "$out" | tail -1)"
	say "stopped private postgresql on port $port"
}

redis_stop_private() {
	local pidfile pid port i
	for pidfile in "$SVC_DIR"/redis-*.pid; do
		[[ -f $pidfile ]] || continue
		port=${pidfile##*/redis-}
		port=${port%.pid}
		if ! pid=$(private_redis_pid "$pidfile"); then
			rm -f "$pidfile"
			continue
		fi
		kill -TERM "$pid"
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then die "redis-server (pid $pid) did not stop within 10s"; fi
		rm -f "$pidfile"
		say "stopped private redis on port $port"
	done
}

# ---------------------------------------------------------------------------------------------

main() {
	case ${1:-} in
	ensure)
		pg_ensure
		redis_ensure
		;;
	stop)
		[[ -d $SVC_DIR ]] || return 0
		take_lock
		pg_stop_private
		redis_stop_private
		;;
	*)
		printf 'usage: %s ensure|stop\n' "$0" >&2
		exit 2
		;;
	esac
}

main "$@"
