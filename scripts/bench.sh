#!/usr/bin/env bash
# make bench: installs the benchmark tools if missing, then runs every
# benchmark in turn. Each prints its own numbers; docs/benchmarks.md records
# them with the machine they ran on. Loopback only, bounded durations.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh --bench
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
bash scripts/bench-cache.sh "${PICTOR_BENCH_SECONDS:-10}"
for extra in scripts/bench-transform.sh scripts/bench-config.sh; do
	if [[ -x $extra ]]; then
		bash "$extra"
	fi
done
