#!/usr/bin/env bash
# Config push at SaaS scale (make bench-fleet): a throwaway Postgres seeded
# with 10,000 tenants (services/controlplane/cmd/benchseed), two
# control-plane replicas behind a load balancer, 100 in-process edges
# (services/edge/cmd/benchfleet); prints each of issue 17's measures
# against its target, exits 1 when one is missed.
#
# Environment: BENCH_ACCOUNTS (10000), BENCH_EDGES (100), BENCH_CHANGES
# (100), BENCH_PURGE_RATE (1000 a minute), BENCH_PURGE_FOR (5m); smaller
# values give a quick run. Arguments go to benchfleet (e.g. -cpuprofile F).
set -euo pipefail

LOG_TAG="[bench-fleet]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/proc.sh
source "$SCRIPTS/lib/proc.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$SCRIPTS/lib/postgres.sh"
# shellcheck source=scripts/lib/fleetbench.sh
source "$SCRIPTS/lib/fleetbench.sh"
ROOT=$(repo_root)
cd "$ROOT"

fleet_bench_setup bench-fleet

msg "building controlplane, benchseed and benchfleet"
GOWORK=off go build -C services/controlplane -o "$WORK/controlplane" ./cmd/controlplane
GOWORK=off go build -C services/controlplane -o "$WORK/benchseed" ./cmd/benchseed
GOWORK=off go build -C services/edge -o "$WORK/benchfleet" ./cmd/benchfleet

# A hit on an account with 10,000 purge rules against one with none: the
# edge's own handler serving from L1 (BenchmarkHitPurgeRules), both in one
# run, the median of five each; benchfleet reports it beside the others.
msg "timing a hit with 10,000 purge rules and with none"
hits=$(GOWORK=off go test -C services/edge -run '^$' -bench '^BenchmarkHitPurgeRules$' -benchtime 200000x -count 5 ./internal/delivery/)
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
hit_none=$(awk '$1 ~ /rules=0-/ {print $3}' <<<"$hits" | median)
hit_many=$(awk '$1 ~ /rules=10000-/ {print $3}' <<<"$hits" | median)

fleet_bench_postgres max_connections=300

# A hundred edges' configs in one process: a soft memory limit makes the
# collector keep the heap near what is live instead of doubling it. It is
# 70 % of the memory available, so the collector of this one process (no
# real edge shares one) works no harder than the machine requires.
avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
: "${GOMEMLIMIT:=$((avail_kib * 7 / 10 / 1024))MiB}"
export GOMEMLIMIT
msg "GOMEMLIMIT=$GOMEMLIMIT"
"$WORK/benchfleet" \
	-database-url "$PG_URL" \
	-controlplane "$WORK/controlplane" -seed "$WORK/benchseed" -data-dir "$EDGE_DIR" \
	-accounts "${BENCH_ACCOUNTS:-10000}" -edges "${BENCH_EDGES:-100}" -changes "${BENCH_CHANGES:-100}" \
	-purge-rate "${BENCH_PURGE_RATE:-1000}" -purge-for "${BENCH_PURGE_FOR:-5m}" \
	-hit-ns "$hit_none,$hit_many" "$@"
