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
# shellcheck source=scripts/lib/fleetbench.sh
source "$SCRIPTS/lib/fleetbench.sh"
ROOT=$(repo_root)
cd "$ROOT"

fleet_bench_setup bench-config

msg "building controlplane and benchconfig"
GOWORK=off go build -C services/controlplane -o "$WORK/controlplane" ./cmd/controlplane
GOWORK=off go build -C services/edge -o "$WORK/benchconfig" ./cmd/benchconfig

fleet_bench_postgres max_connections=200 track_commit_timestamp=on

"$WORK/benchconfig" \
	-database-url "$PG_URL" \
	-controlplane "$WORK/controlplane" \
	-data-dir "$EDGE_DIR" \
	-edges "${BENCH_EDGES:-50}" -writes "${BENCH_WRITES:-50}" -replicas "${BENCH_REPLICAS:-1}"
