#!/usr/bin/env bash
# Config push at SaaS scale (make bench-fleet): a throwaway Postgres seeded
# with 10,000 tenants (services/controlplane/cmd/benchseed), two
# control-plane replicas behind a load balancer, 100 in-process edges
# (services/edge/cmd/benchfleet); prints each of issue 17's measures
# against its target, exits 1 when one is missed.
#
# Environment: BENCH_ACCOUNTS (10000), BENCH_EDGES (100), BENCH_CHANGES
# (20), BENCH_PURGE_RATE (1000 a minute), BENCH_PURGE_FOR (5m); smaller
# values give a quick run.
set -euo pipefail

LOG_TAG="[bench-fleet]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/proc.sh
source "$SCRIPTS/lib/proc.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$SCRIPTS/lib/postgres.sh"
ROOT=$(repo_root)
cd "$ROOT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pictor-bench-fleet.XXXXXX")
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

# A hundred edges on one disk would share it with Postgres, which no real
# fleet does (every edge has its own): their directories live in memory
# when /dev/shm exists. Postgres keeps durable commits.
EDGE_DIR="$WORK/edges"
if [[ -d /dev/shm && -w /dev/shm ]]; then
	EDGE_DIR=$(mktemp -d /dev/shm/pictor-bench-fleet.XXXXXX)
fi

msg "building controlplane, benchseed and benchfleet"
GOWORK=off go build -C services/controlplane -o "$WORK/controlplane" ./cmd/controlplane
GOWORK=off go build -C services/controlplane -o "$WORK/benchseed" ./cmd/benchseed
GOWORK=off go build -C services/edge -o "$WORK/benchfleet" ./cmd/benchfleet

pg_own_dir "$WORK/pg"
pg_init "$PG_DATA" "$PG_LOG"
for ((i = 0; i < 50; i++)); do
	port=$((20000 + RANDOM % 30000))
	port_in_use "$port" || break
done
pg_configure "$PG_DATA" "$port" "$WORK/pg" max_connections=300
PG_UP=1
pg_start "$PG_DATA" "$PG_LOG"

# A hundred edges' configs in one process: a soft memory limit makes the
# collector keep the heap near what is live instead of doubling it.
GOMEMLIMIT=${GOMEMLIMIT:-10GiB} "$WORK/benchfleet" \
	-database-url "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" \
	-controlplane "$WORK/controlplane" -seed "$WORK/benchseed" -data-dir "$EDGE_DIR" \
	-accounts "${BENCH_ACCOUNTS:-10000}" -edges "${BENCH_EDGES:-100}" -changes "${BENCH_CHANGES:-20}" \
	-purge-rate "${BENCH_PURGE_RATE:-1000}" -purge-for "${BENCH_PURGE_FOR:-5m}"
