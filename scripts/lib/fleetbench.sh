# shellcheck shell=bash
# What the fleet benchmarks (bench-config.sh, bench-fleet.sh) share: a work
# directory removed on exit, the edges' data directories, and a throwaway
# Postgres (durable defaults: every config write is a real commit).
# Source after proc.sh and postgres.sh; call fleet_bench_setup NAME, then
# fleet_bench_postgres [SETTING=VALUE...], which sets PG_URL.

fleet_bench_setup() {
	local name=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/pictor-$name.XXXXXX")
	chmod 755 "$WORK" # the Postgres owner must reach its directory below
	PG_DATA="$WORK/pg/data"
	PG_LOG="$WORK/postgres.log"
	PG_UP=0
	EDGE_DIR=""
	trap fleet_bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# Each edge writes its config file as it changes. Many edges on one
	# disk would put their fsyncs onto the disk Postgres commits to, a
	# contention no real fleet has (every edge has its own disk), so the
	# edges' directories live in memory when /dev/shm exists. Postgres
	# keeps durable commits.
	EDGE_DIR="$WORK/edges"
	if [[ -d /dev/shm && -w /dev/shm ]]; then
		EDGE_DIR=$(mktemp -d "/dev/shm/pictor-$name-edges.XXXXXX")
	fi
}

fleet_bench_cleanup() {
	local rc=$?
	trap '' INT TERM
	if ((PG_UP)); then
		pg_stop "$PG_DATA" || true
	fi
	rm -rf "$WORK" "$EDGE_DIR"
	exit "$rc"
}

fleet_bench_postgres() {
	local port i
	pg_own_dir "$WORK/pg"
	pg_init "$PG_DATA" "$PG_LOG"
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 30000))
		port_in_use "$port" || break
	done
	pg_configure "$PG_DATA" "$port" "$WORK/pg" "$@"
	PG_UP=1
	pg_start "$PG_DATA" "$PG_LOG"
	PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}
