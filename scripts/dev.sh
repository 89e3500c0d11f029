#!/usr/bin/env bash
# Pictor's local dev stack (make run).
#
#   scripts/dev.sh         install what is missing, build, start Postgres, Redis,
#                          the control plane, two edges and a demo origin, create
#                          the `demo` account, print the URLs; Ctrl-C or SIGTERM
#                          stops everything it started
#   scripts/dev.sh stop    stop a running stack, or whatever a killed one left
#   scripts/dev.sh clean   stop, then delete the stack's data under .dev
#                          (keeps .dev/bin) (make clean-dev)
#
# All state lives under .dev/: pg/ (Postgres cluster), redis/, edge-1/, edge-2/,
# run/ (pid files), log/ (one log per process), secrets.env, demo.env.
set -euo pipefail

LOG_TAG="[dev]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/proc.sh
source "$SCRIPTS/lib/proc.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$SCRIPTS/lib/postgres.sh"
# shellcheck source=scripts/lib/stack.sh
source "$SCRIPTS/lib/stack.sh"

T0=$EPOCHREALTIME
ROOT=$(repo_root)
DEV="$ROOT/.dev"
BIN="$DEV/bin"
RUN="$DEV/run"
LOGS="$DEV/log"
PG_DATA="$DEV/pg"
PG_SOCK=$(pg_socket_dir "$DEV/pg-socket")
REDIS_DIR="$DEV/redis"
SECRETS="$DEV/secrets.env"
DEMO_ENV="$DEV/demo.env"
LOCK="$RUN/dev.pid"

BIND=${PICTOR_DEV_BIND:-127.0.0.1}
PG_PORT=${PICTOR_DEV_PG_PORT:-55432}
REDIS_PORT=${PICTOR_DEV_REDIS_PORT:-56379}
HTTP_PORT=${PICTOR_DEV_HTTP_PORT:-8080}
GRPC_PORT=${PICTOR_DEV_GRPC_PORT:-8090}
EDGE1_PORT=${PICTOR_DEV_EDGE1_PORT:-8081}
EDGE2_PORT=${PICTOR_DEV_EDGE2_PORT:-8082}
ORIGIN_PORT=${PICTOR_DEV_ORIGIN_PORT:-8079}
PHOTOS=${PICTOR_DEV_PHOTOS_DIR:-/usr/share/backgrounds/mate}
DEMO_ACCOUNT=demo
DEMO_EMAIL=${PICTOR_DEV_DEMO_EMAIL:-demo@example.com}
DEMO_PASSWORD=${PICTOR_DEV_DEMO_PASSWORD:-demo-password}
STARTUP_TIMEOUT=${PICTOR_DEV_STARTUP_TIMEOUT:-90}

# Addresses the browser and curl use; 0.0.0.0 is reachable as 127.0.0.1.
HOST=$BIND
[[ $HOST == 0.0.0.0 ]] && HOST=127.0.0.1
CP_URL="http://$HOST:$HTTP_PORT"
EDGE1_URL="http://$HOST:$EDGE1_PORT"
EDGE2_URL="http://$HOST:$EDGE2_PORT"
ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"

# Processes this run started, by name (Postgres is tracked by its data dir).
declare -A CHILD_PID=()
CHILD_ORDER=()
LOCK_HELD=0
PG_STARTED=0
CLEANED=0
AHEAD_PID=
AHEAD_CPUS=1
PG_JOB=

# ---------------------------------------------------------------- leftovers

# dev_sh_alive PID: true when PID is a running scripts/dev.sh of this checkout.
dev_sh_alive() {
	local pid=$1 cmd cwd
	pid_alive "$pid" || return 1
	[[ $pid != "$$" ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *dev.sh* ]] || return 1
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || cwd=
	[[ $cwd == "$ROOT" || $cwd == "$ROOT"/* || $cmd == *"$ROOT/scripts/dev.sh"* ]]
}

# running_dev_sh prints the pid of a live dev.sh holding the lock, if any.
running_dev_sh() {
	local pid
	[[ -f $LOCK ]] || return 1
	pid=$(<"$LOCK")
	dev_sh_alive "$pid" || return 1
	echo "$pid"
}

# clear_leftovers stops every process an earlier run left behind: pid files
# first, then any process running a binary from .dev/bin or living in the
# Redis data dir, then a Postgres cluster still running from .dev/pg.
clear_leftovers() {
	local f pid name ours
	mkdir -p "$RUN"
	ours=$(pids_rooted_at "$BIN" "$REDIS_DIR")
	for f in "$RUN"/*.pid; do
		[[ -e $f && $f != "$LOCK" ]] || continue
		name=$(basename "$f" .pid)
		pid=$(<"$f") || pid=
		# Only a process that is really ours: pids get reused.
		if pid_alive "$pid" && grep -qx "$pid" <<<"$ours"; then
			msg "stopping $name (pid $pid) left running by an earlier run"
			stop_pid "$pid" 10
		fi
		rm -f "$f"
	done
	# Anything else running from .dev (e.g. its pid file was lost).
	for pid in $(pids_rooted_at "$BIN" "$REDIS_DIR"); do
		msg "stopping leftover process $pid ($(tr -s '\0 ' '  ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
		stop_pid "$pid" 10
	done
	pg_clear_leftovers "$PG_DATA" "$PG_SOCK"
	rm -f "$LOCK"
}

# stop_running_stack asks a live dev.sh to stop and waits for it.
stop_running_stack() {
	local pid i
	pid=$(running_dev_sh) || return 0
	msg "stopping the running dev stack (dev.sh pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 600; i++)); do
		dev_sh_alive "$pid" || return 0
		sleep 0.1
	done
	die "dev.sh (pid $pid) did not stop within 60s"
}

# ---------------------------------------------------------------- stop

stop_stack() {
	local name pid
	((CLEANED)) && return 0
	CLEANED=1
	if [[ -n $AHEAD_PID ]]; then
		kill -TERM -- "-$AHEAD_PID" 2>/dev/null || true
	fi
	if [[ -n $PG_JOB ]]; then
		wait "$PG_JOB" 2>/dev/null || true # then pg_stop finds what it started
	fi
	if ((${#CHILD_ORDER[@]} > 0 || PG_STARTED)); then
		msg "stopping the dev stack"
	fi
	# Ask every service to stop at once, then wait for each (SIGKILL after 10 s).
	for name in "${CHILD_ORDER[@]}"; do
		kill -TERM "${CHILD_PID[$name]}" 2>/dev/null || true
	done
	for name in "${CHILD_ORDER[@]}"; do
		pid=${CHILD_PID[$name]}
		stop_pid "$pid" 10
		wait "$pid" 2>/dev/null || true
		rm -f "$RUN/$name.pid"
	done
	if ((PG_STARTED)); then
		pg_stop "$PG_DATA" || true
	fi
	if ((LOCK_HELD)); then
		rm -f "$LOCK"
	fi
	if ((${#CHILD_ORDER[@]} > 0 || PG_STARTED)); then
		msg "stopped"
	fi
}

# on_signal WHAT: Ctrl-C, SIGTERM and SIGHUP are the normal way to stop the
# stack, so exit 0 after a clean stop (make would otherwise report an error).
on_signal() {
	trap '' INT TERM HUP PIPE
	msg "$1"
	exit 0
}

on_exit() {
	local rc=$?
	# Finish the cleanup even when the terminal or a pipe reading our
	# output is gone.
	set +e
	trap '' INT TERM HUP PIPE
	stop_stack
	exit "$rc"
}

# ---------------------------------------------------------------- start helpers

rotate_log() {
	local log=$1
	[[ -f $log ]] && mv -f "$log" "$log.1"
	: >"$log"
}

# start_bg NAME CMD...: starts CMD in the background with its output in
# .dev/log/NAME.log and records its pid in .dev/run/NAME.pid. CMD runs in a
# session of its own, so a Ctrl-C in the terminal reaches only this script,
# which then stops the services in order.
start_bg() {
	local name=$1 log="$LOGS/$1.log"
	shift
	rotate_log "$log"
	# A background child is not a process group leader, so setsid execs CMD
	# in place (no fork): $! is CMD's own pid.
	setsid "$@" </dev/null >>"$log" 2>&1 &
	CHILD_PID[$name]=$!
	CHILD_ORDER+=("$name")
	echo "$!" >"$RUN/$name.pid"
}

# wait_up NAME URL: waits for URL to answer 2xx while NAME is alive.
wait_up() {
	local name=$1 url=$2
	wait_http "$url" "$STARTUP_TIMEOUT" "${CHILD_PID[$name]}" "$LOGS/$name.log" ||
		die "$name did not come up (log: .dev/log/$name.log)"
}

# env_file_get FILE KEY: prints KEY's value from a KEY=VALUE file.
env_file_get() {
	[[ -f $1 ]] || return 0
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# write_env_file FILE KEY=VALUE...: (re)writes FILE with mode 0600.
write_env_file() {
	local file=$1 kv
	shift
	(
		umask 077
		: >"$file.tmp"
		for kv in "$@"; do
			printf '%s\n' "$kv" >>"$file.tmp"
		done
		mv -f "$file.tmp" "$file"
	)
	chmod 600 "$file"
}

check_port_free() {
	local port=$1 what=$2 var=$3
	if port_in_use "$port"; then
		die "port $port ($what) is already in use by a process this stack did not start; stop it or choose another port with $var=…"
	fi
}

elapsed() {
	awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# pick_demo_image prints a JPEG path relative to the photos dir.
pick_demo_image() {
	if [[ -f $PHOTOS/nature/Garden.jpg ]]; then
		echo nature/Garden.jpg
		return
	fi
	# Names that need no URL escaping; none at all is reported by the caller.
	(cd "$PHOTOS" && find . -type f -name '*.jpg' | sed 's|^\./||' | grep -E '^[A-Za-z0-9._/-]+$' | LC_ALL=C sort | head -n 1) || true
}

# api METHOD URL BODY_FILE [curl args...]: prints the HTTP status; the
# response body lands in BODY_FILE.
api() {
	local method=$1 url=$2 out=$3
	shift 3
	curl -sS -o "$out" -w '%{http_code}' -X "$method" --max-time 15 "$@" "$url" || true
}

# ---------------------------------------------------------------- demo account

ensure_demo_account() {
	local body status key origin_id origin_base tmp="$RUN/api-response.json"
	body=$(jq -n --arg id "$DEMO_ACCOUNT" --arg email "$DEMO_EMAIL" --arg pw "$DEMO_PASSWORD" \
		'{id: $id, name: "Demo", ownerEmail: $email, ownerPassword: $pw}')
	status=$(api POST "$CP_URL/admin/v1/accounts" "$tmp" \
		-H "Authorization: Bearer $PICTOR_ADMIN_TOKEN" -H 'Content-Type: application/json' --data "$body")
	case $status in
	201)
		key=$(jq -r '.privateKey // empty' "$tmp")
		[[ -n $key ]] || die "account created, but the response has no privateKey: $(cat "$tmp")"
		write_env_file "$DEMO_ENV" "DEMO_PRIVATE_KEY=$key"
		msg "created account '$DEMO_ACCOUNT'"
		;;
	409)
		key=$(env_file_get "$DEMO_ENV" DEMO_PRIVATE_KEY)
		[[ -n $key ]] ||
			die "account '$DEMO_ACCOUNT' already exists but its private key is not in .dev/demo.env; run 'make clean-dev' to start from an empty database"
		;;
	*)
		die "creating account '$DEMO_ACCOUNT' failed: HTTP $status $(cat "$tmp")"
		;;
	esac
	DEMO_KEY=$key

	origin_id=$(env_file_get "$DEMO_ENV" DEMO_ORIGIN_ID)
	origin_base=$(env_file_get "$DEMO_ENV" DEMO_ORIGIN_BASE_URL)
	if [[ -z $origin_id ]]; then
		body=$(jq -n --arg base "$ORIGIN_URL" '{type: "WEB_FOLDER", name: "Demo photos", baseUrl: $base}')
		status=$(api POST "$CP_URL/v1/accounts/origins" "$tmp" \
			-u "$DEMO_KEY:" -H 'Content-Type: application/json' --data "$body")
		[[ $status == 200 || $status == 201 ]] ||
			die "adding the demo origin failed: HTTP $status $(cat "$tmp")"
		origin_id=$(jq -r '.id // empty' "$tmp")
		[[ -n $origin_id ]] || die "origin created, but the response has no id: $(cat "$tmp")"
		write_env_file "$DEMO_ENV" "DEMO_PRIVATE_KEY=$DEMO_KEY" "DEMO_ORIGIN_ID=$origin_id" "DEMO_ORIGIN_BASE_URL=$ORIGIN_URL"
		msg "added origin $origin_id ($ORIGIN_URL) to account '$DEMO_ACCOUNT'"
	elif [[ $origin_base != "$ORIGIN_URL" ]]; then
		msg "warning: the demo origin was created with baseUrl $origin_base, but the demo origin now listens on $ORIGIN_URL; run 'make clean-dev' to recreate the account"
	fi
	rm -f "$tmp"
}

# wait_image URL: waits until the edge serves URL with 200. The account's
# config has to reach the edge first; until its origin does, an image is
# "not found" and the edge remembers that 404 for a while. So the wait polls
# a fresh cache key each time (a forwarded query parameter is part of the
# key) and only then asks for URL itself.
wait_image() {
	local url=$1 deadline status=none n=0 sep='?'
	[[ $url == *\?* ]] && sep='&'
	deadline=$((SECONDS + STARTUP_TIMEOUT))
	while ((SECONDS < deadline)); do
		n=$((n + 1))
		status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url${sep}pictor-dev-probe=$$-$n" || true)
		[[ $status == 200 ]] && break
		sleep 0.2
	done
	[[ $status == 200 ]] ||
		die "the edge did not serve $url within ${STARTUP_TIMEOUT}s (last status $status; logs in .dev/log/)"
	status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" || true)
	[[ $status == 200 ]] || die "the edge answers $status to $url (logs in .dev/log/)"
}

# ---------------------------------------------------------------- main

# start_ahead starts, while the bootstrap installs packages, the part of
# the build that needs none of them: the dashboard's npm packages and its
# build, and every Go package the binaries import that needs neither
# libvips nor the dashboard (build.sh --ahead). On a new machine that is
# most of a cold build. It runs in its own process group, so that
# stop_stack can end its compilers too; at the lowest priority (a new
# session is a new scheduling autogroup, where nice alone would weigh
# nothing against the others, so the group's nice is lowered as well); and
# off the first CPU while apt runs: dpkg works on one CPU and fsyncs every
# package, and with every CPU compiling, a first install here took twice as
# long. GOMAXPROCS keeps go build's parallelism, which would otherwise be
# the one CPU it starts pinned to.
start_ahead() {
	local pin=()
	AHEAD_CPUS=$(nproc 2>/dev/null || echo 1)
	((AHEAD_CPUS < 2)) || pin=(env GOMAXPROCS="$AHEAD_CPUS" taskset -c "1-$((AHEAD_CPUS - 1))")
	rm -f "$RUN/bootstrap.done"
	# GOGC=400: the compilers spend a tenth less CPU collecting garbage
	# (102 s to 93 s for the dependencies, here), for a fifth more memory.
	GOGC=${GOGC:-400} PICTOR_AHEAD_UNTIL="$RUN/bootstrap.done" \
		setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 "$@"' - \
		"${pin[@]}" "$SCRIPTS/build.sh" --ahead </dev/null >"$LOGS/build-ahead.log" 2>&1 &
	AHEAD_PID=$!
}

# bootstrap_done tells the build ahead that the bootstrap is done, and
# gives it every CPU.
bootstrap_done() {
	local pid
	touch "$RUN/bootstrap.done"
	((AHEAD_CPUS >= 2)) || return 0
	for pid in $(pgrep -g "$AHEAD_PID" || true); do
		taskset -a -p -c "0-$((AHEAD_CPUS - 1))" "$pid" >/dev/null 2>&1 || true
	done
}

# join_ahead waits for the build ahead; what failed there is the build's
# to report.
join_ahead() {
	if ! wait "$AHEAD_PID"; then
		msg "the build ahead failed (log: .dev/log/build-ahead.log); the build will say why"
	fi
	AHEAD_PID=
	tail -n 1 "$LOGS/build-ahead.log"
}

# start_postgres starts the private cluster in .dev/pg, run by its owner
# (see lib/postgres.sh), and creates the database.
start_postgres() {
	local psql
	# The cluster owner must be able to reach .dev (a umask of 077 would hide it).
	chmod a+x "$DEV"
	rotate_log "$LOGS/postgres.log"
	pg_init "$PG_DATA" "$LOGS/postgres.log"
	pg_own_dir "$PG_SOCK"
	pg_configure "$PG_DATA" "$PG_PORT" "$PG_SOCK"
	pg_start "$PG_DATA" "$LOGS/postgres.log"
	psql="$(pg_bin_dir)/psql"
	if [[ -z $("$psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pictor'") ]]; then
		"$psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'CREATE DATABASE pictor' >/dev/null
		msg "created database pictor"
	fi
	msg "Postgres up on 127.0.0.1:$PG_PORT ($(elapsed)s)"
}

run_stack() {
	local pid secret_master secret_edge image
	mkdir -p "$RUN" "$LOGS" "$BIN"

	if pid=$(running_dev_sh); then
		die "a dev stack is already running (dev.sh pid $pid); stop it with Ctrl-C in its terminal, 'scripts/dev.sh stop' or 'kill $pid'"
	fi
	clear_leftovers
	echo "$$" >"$LOCK"
	LOCK_HELD=1
	trap 'on_signal interrupted' INT
	trap 'on_signal terminated' TERM
	trap 'on_signal "hangup (terminal closed)"' HUP
	trap on_exit EXIT

	check_port_free "$PG_PORT" "Postgres" PICTOR_DEV_PG_PORT
	check_port_free "$REDIS_PORT" "Redis" PICTOR_DEV_REDIS_PORT
	check_port_free "$HTTP_PORT" "control plane HTTP" PICTOR_DEV_HTTP_PORT
	check_port_free "$GRPC_PORT" "control plane gRPC" PICTOR_DEV_GRPC_PORT
	check_port_free "$EDGE1_PORT" "edge-1" PICTOR_DEV_EDGE1_PORT
	check_port_free "$EDGE2_PORT" "edge-2" PICTOR_DEV_EDGE2_PORT
	check_port_free "$ORIGIN_PORT" "demo origin" PICTOR_DEV_ORIGIN_PORT

	start_ahead
	"$SCRIPTS/bootstrap.sh" --system
	bootstrap_done
	[[ -d $PHOTOS ]] || die "no sample photos at $PHOTOS (the mate-backgrounds package installs them; set PICTOR_DEV_PHOTOS_DIR to use another folder)"

	# Secrets are generated once and reused, so encrypted keys stay readable.
	secret_master=$(env_file_get "$SECRETS" PICTOR_MASTER_KEY)
	secret_edge=$(env_file_get "$SECRETS" PICTOR_EDGE_TOKEN)
	if [[ -z $secret_master || -z $secret_edge ]]; then
		secret_master=${secret_master:-$(random_hex 32)}
		secret_edge=${secret_edge:-$(random_hex 32)}
		write_env_file "$SECRETS" "PICTOR_MASTER_KEY=$secret_master" "PICTOR_EDGE_TOKEN=$secret_edge"
		msg "generated .dev/secrets.env"
	fi
	export PICTOR_MASTER_KEY=${PICTOR_MASTER_KEY:-$secret_master}
	export PICTOR_EDGE_TOKEN=${PICTOR_EDGE_TOKEN:-$secret_edge}
	export PICTOR_ADMIN_TOKEN=${PICTOR_ADMIN_TOKEN:-dev-admin-token}
	export PICTOR_ALLOW_PRIVATE_ORIGINS=${PICTOR_ALLOW_PRIVATE_ORIGINS:-true}
	export PICTOR_DATABASE_URL=${PICTOR_DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/pictor?sslmode=disable}

	# Postgres starts while the binaries build.
	PG_STARTED=1
	start_postgres &
	PG_JOB=$!
	join_ahead
	"$SCRIPTS/build.sh" "$BIN"
	wait "$PG_JOB" || die "Postgres did not start (log: .dev/log/postgres.log)"
	PG_JOB=

	# Redis: cache only, so no persistence.
	mkdir -p "$REDIS_DIR"
	start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" "${REDIS_CACHE_FLAGS[@]}"
	wait_redis "$REDIS_PORT" "${CHILD_PID[redis]}" "$LOGS/redis.log" ||
		die "Redis did not start (log: .dev/log/redis.log)"

	rotate_log "$LOGS/migrate.log"
	if ! "$BIN/controlplane" migrate up </dev/null >>"$LOGS/migrate.log" 2>&1; then
		show_log_tail "$LOGS/migrate.log"
		die "controlplane migrate up failed (log: .dev/log/migrate.log)"
	fi

	start_bg controlplane env \
		PICTOR_HTTP_ADDR="$BIND:$HTTP_PORT" PICTOR_GRPC_ADDR="$BIND:$GRPC_PORT" \
		PICTOR_PUBLIC_EDGE_URL="$EDGE1_URL" \
		PICTOR_EDGE_EGRESS_ADDRESSES="${PICTOR_EDGE_EGRESS_ADDRESSES:-127.0.0.1}" \
		"$BIN/controlplane" serve
	start_bg demo-origin "$BIN/demo-origin" -addr "127.0.0.1:$ORIGIN_PORT" -dir "$PHOTOS"
	local n port
	for n in 1 2; do
		port=$EDGE1_PORT
		((n == 2)) && port=$EDGE2_PORT
		mkdir -p "$DEV/edge-$n"
		start_bg "edge-$n" env \
			PICTOR_EDGE_ADDR="$BIND:$port" PICTOR_CONTROL_PLANE_ADDR="127.0.0.1:$GRPC_PORT" \
			PICTOR_NODE_ID="edge-$n" PICTOR_EDGE_DATA_DIR="$DEV/edge-$n" \
			PICTOR_REDIS_ADDRS="127.0.0.1:$REDIS_PORT" \
			PICTOR_EDGE_MEMORY_LIMIT="${PICTOR_EDGE_MEMORY_LIMIT:-$DEV_EDGE_MEMORY_LIMIT}" \
			"$BIN/edge"
	done
	wait_up controlplane "$CP_URL/healthz"
	wait_up demo-origin "$ORIGIN_URL/healthz"
	wait_up edge-1 "$EDGE1_URL/healthz"
	wait_up edge-2 "$EDGE2_URL/healthz"
	msg "services up ($(elapsed)s)"

	ensure_demo_account
	wait_up edge-1 "$EDGE1_URL/readyz"
	wait_up edge-2 "$EDGE2_URL/readyz"

	image=$(pick_demo_image)
	[[ -n $image ]] || die "no .jpg under $PHOTOS"
	local url1="$EDGE1_URL/$DEMO_ACCOUNT/tr:w-300/$image"
	local url2="$EDGE2_URL/$DEMO_ACCOUNT/$image?tr=w-300"
	wait_image "$url1"
	wait_image "$url2"
	local first
	first=$(elapsed)

	cat <<EOF

Pictor dev stack is up — first image after ${first}s

  dashboard            $CP_URL/
  control plane        HTTP $CP_URL   gRPC $BIND:$GRPC_PORT
  admin token          $PICTOR_ADMIN_TOKEN   (Authorization: Bearer …)
  demo account         $DEMO_ACCOUNT   owner login $DEMO_EMAIL / $DEMO_PASSWORD
  demo private key     $DEMO_KEY   (HTTP Basic username; saved in .dev/demo.env)
  edges                $EDGE1_URL (edge-1)   $EDGE2_URL (edge-2)
  demo origin          $ORIGIN_URL → $PHOTOS
  Postgres             $PICTOR_DATABASE_URL
  Redis                127.0.0.1:$REDIS_PORT
  logs                 .dev/log/

Try:
  $url1
  $url2

Ctrl-C stops everything.
EOF

	# Watch the processes; stop everything if one of them dies.
	while true; do
		for n in "${CHILD_ORDER[@]}"; do
			if ! pid_alive "${CHILD_PID[$n]}"; then
				show_log_tail "$LOGS/$n.log"
				die "$n exited unexpectedly; stopping the stack"
			fi
		done
		if ! pg_is_running "$PG_DATA"; then
			show_log_tail "$LOGS/postgres.log"
			die "Postgres stopped unexpectedly; stopping the stack"
		fi
		sleep 1 &
		wait "$!" || true
	done
}

case ${1:-run} in
run)
	run_stack
	;;
stop)
	mkdir -p "$RUN"
	stop_running_stack
	clear_leftovers
	msg "nothing of the dev stack is running"
	;;
clean)
	mkdir -p "$RUN"
	stop_running_stack
	clear_leftovers
	find "$DEV" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} +
	[[ $PG_SOCK == "$DEV"/* ]] || rm -rf "$PG_SOCK"
	msg "removed the dev stack's data under .dev (kept .dev/bin)"
	;;
*)
	die "usage: $0 [run|stop|clean]"
	;;
esac
