#!/usr/bin/env bash
# make bench: installs the benchmark tools if missing, then runs every
# benchmark in turn. Each prints its own numbers; docs/benchmarks.md records
# them with the machine they ran on. Loopback only, bounded durations.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh --bench
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
bash scripts/bench-cache.sh "${PICTOR_BENCH_SECONDS:-10}"
bash scripts/bench-transform.sh
bash scripts/bench-hostile.sh
bash scripts/bench-miss.sh
bash scripts/bench-config.sh
