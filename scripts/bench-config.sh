#!/usr/bin/env bash
# Config propagation to a fleet (make bench-config): a throwaway Postgres
# (durable defaults: every config write is a real commit), the controlplane
# binary, and 50 in-process edges (services/edge/cmd/benchconfig); 50 config
# writes through the REST API, each timed from its commit (Postgres commit
# timestamps) until every edge serves it, and from issuing it. Prints
# p50/p99; the target is p99 under 200 ms.
#
# Environment: BENCH_EDGES (50), BENCH_WRITES (50), BENCH_REPLICAS (1).
set -euo pipefail

LOG_TAG="[bench-config]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/proc.sh
source "$SCRIPTS/lib/proc.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$SCRIPTS/lib/postgres.sh"
ROOT=$(repo_root)
cd "$ROOT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pictor-bench-config.XXXXXX")
chmod 755 "$WORK" # the Postgres owner must reach its directory below
PG_DATA="$WORK/pg/data"
PG_LOG="$WORK/postgres.log"
PG_UP=0
EDGE_DIR=""
cleanup() {
	local rc=$?
	trap '' INT TERM
	if ((PG_UP)); then
		pg_stop "$PG_DATA" || true
	fi
	rm -rf "$WORK" "$EDGE_DIR"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Each edge fsyncs its snapshot file on every change. Fifty edges on one
# disk would put 100 fsyncs per write onto the disk Postgres commits to, a
# contention no real fleet has (every edge has its own disk), so the edges'
# directories live in memory when /dev/shm exists. Postgres keeps durable
# commits.
EDGE_DIR="$WORK/edges"
if [[ -d /dev/shm && -w /dev/shm ]]; then
	EDGE_DIR=$(mktemp -d /dev/shm/pictor-bench-edges.XXXXXX)
fi

msg "building controlplane and benchconfig"
GOWORK=off go build -C services/controlplane -o "$WORK/controlplane" ./cmd/controlplane
GOWORK=off go build -C services/edge -o "$WORK/benchconfig" ./cmd/benchconfig

pg_own_dir "$WORK/pg"
pg_init "$PG_DATA" "$PG_LOG"
for ((i = 0; i < 50; i++)); do
	port=$((20000 + RANDOM % 30000))
	port_in_use "$port" || break
done
pg_configure "$PG_DATA" "$port" "$WORK/pg" max_connections=200 track_commit_timestamp=on
PG_UP=1
pg_start "$PG_DATA" "$PG_LOG"

"$WORK/benchconfig" \
	-database-url "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" \
	-controlplane "$WORK/controlplane" \
	-data-dir "$EDGE_DIR" \
	-edges "${BENCH_EDGES:-50}" -writes "${BENCH_WRITES:-50}" -replicas "${BENCH_REPLICAS:-1}"
