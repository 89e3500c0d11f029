#!/usr/bin/env bash
# make bench: installs the benchmark tools if missing, then runs every
# benchmark in turn. Each prints its own numbers; docs/benchmarks.md records
# them with the machine they ran on. Loopback only, bounded durations.
# PICTOR_BENCH_SECONDS: length of each cache-hit run (bench-cache.sh, 10).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh --bench
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
# A benchmark that misses its targets exits non-zero; the others still run,
# and make bench fails at the end naming it. An interrupted one stops all.
failed=()
run() {
	local rc=0
	bash "scripts/$1" "${@:2}" || rc=$?
	((rc < 128)) || exit "$rc"
	((rc == 0)) || failed+=("$1")
}
run bench-cache.sh "${PICTOR_BENCH_SECONDS:-10}"
run bench-transform.sh
run bench-hostile.sh
run bench-miss.sh
run bench-config.sh
run bench-fleet.sh
if ((${#failed[@]})); then
	echo "make bench: missed targets or failed: ${failed[*]}" >&2
	exit 1
fi
