#!/usr/bin/env bash
# make bench-miss: cold-miss throughput of one edge (standalone, no Redis)
# against its own transform engine on the same work, in one run. An nginx
# origin on loopback serves one 12 MP JPEG under every path of /12/ and one
# 18 MP JPEG under /18/; wrk makes every request a new path, at each
# concurrency in PICTOR_BENCH_MISS_CONNS, for tr:w-300,q-80 (12 MP) and
# tr:w-800,f-webp (18 MP). services/edge/cmd/benchmiss alternates engine and
# edge runs, prints edge req/s ÷ engine img/s (medians) and the edge's peak
# RSS, and exits non-zero when a ratio is under the target (0.95) or a
# request failed; its last line is the summary. A third side, fetch+engine,
# gets each source from the same nginx before transforming it in process:
# edge ÷ fetch+engine (in brackets) is what the edge adds beyond the bytes'
# delivery, which the engine alone never pays. Sources are made once with
# libvips' CLI from Debian's sample photos and kept in .dev/bench-miss.
# Knobs: PICTOR_BENCH_MISS_SECONDS (each run, default 8),
# PICTOR_BENCH_MISS_ROUNDS (default 3), PICTOR_BENCH_MISS_CONNS (default
# 4,16), PICTOR_TRANSFORM_WORKERS (both sides; default the edge's, 2 × cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/benchstack.sh
source scripts/lib/benchstack.sh
ROOT=$PWD
ORIGIN_PORT=18380 EDGE_PORT=18381
PHOTO=/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg
SECONDS_EACH=${PICTOR_BENCH_MISS_SECONDS:-8}
ROUNDS=${PICTOR_BENCH_MISS_ROUNDS:-3}
CONNS=${PICTOR_BENCH_MISS_CONNS:-4,16}
# Set explicitly on both sides: the edge's default is 2 × GOMAXPROCS.
WORKERS=${PICTOR_TRANSFORM_WORKERS:-$((2 * $(nproc)))}
bench_need nginx vips vipsheader wrk curl go
[ -f "$PHOTO" ] || die "$PHOTO missing (install mate-backgrounds)"

SRC="$ROOT/.dev/bench-miss"
mkdir -p "$SRC"
# The photo is 5640×3172: the 12 MP source is it scaled down and cropped to
# 4000×3000 (a camera's 4:3), the 18 MP one scaled up 9 % and cropped to
# 5184×3456 (a camera's 3:2). Q 90, as cameras and phones save.
[ -s "$SRC/12mp.jpg" ] || vips thumbnail "$PHOTO" "$SRC/12mp.jpg[Q=90]" 4000 --height 3000 --crop centre
[ -s "$SRC/18mp.jpg" ] || vips thumbnail "$PHOTO" "$SRC/18mp.jpg[Q=90]" 5184 --height 3456 --crop centre
for f in 12mp 18mp; do
  printf 'source %s: %s, %s bytes\n' "$f.jpg" "$(vipsheader "$SRC/$f.jpg" | cut -d' ' -f2)" "$(stat -c %s "$SRC/$f.jpg")"
done

bench_init pictor-bench-miss
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
WORK=$BENCH_WORK

echo "== building"
bench_build edge benchmiss

# One nginx worker; its pid is the one whose CPU time the driver reports.
bench_nginx origin "$ORIGIN_PORT" 1 "$SRC" \
  'location /12/ { try_files /12mp.jpg =404; } location /18/ { try_files /18mp.jpg =404; }'
ORIGIN_PID=$(pgrep -P "$(bench_pid origin)" | head -1)

bench_standalone_config "$WORK/pictor.yaml" "http://127.0.0.1:$ORIGIN_PORT"
# The edge's own default budget on a machine without a cgroup limit (1 GiB),
# not the dev stack's 768 MiB.
bench_edge edge "$EDGE_PORT" "$WORK/pictor.yaml" PICTOR_EDGE_MEMORY_LIMIT=1GiB PICTOR_LOG_LEVEL=info \
  PICTOR_TRANSFORM_WORKERS="$WORKERS"
EDGE_PID=$(bench_pid edge)
# The budget's work share bounds the origin bodies and transforms in flight.
grep -m1 'memory budget' "$WORK/edge.log" || true
echo "== cold misses: machine $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $WORKERS transform workers, $ROUNDS × ${SECONDS_EACH}s per side and concurrency ($CONNS)"
rc=0
TMPDIR="$WORK" "$WORK/benchmiss" -edge "http://127.0.0.1:$EDGE_PORT" -pid "$EDGE_PID" \
  -origin "http://127.0.0.1:$ORIGIN_PORT" -origin-pid "$ORIGIN_PID" \
  -src12 "$SRC/12mp.jpg" -src18 "$SRC/18mp.jpg" -workers "$WORKERS" -c "$CONNS" \
  -duration "${SECONDS_EACH}s" -rounds "$ROUNDS" | tee "$WORK/out" || rc=$?
if ! pid_alive "$EDGE_PID" || grep -q 'level=ERROR' "$WORK/edge.log"; then
  # Told after the fact, then the summary again so that it stays last.
  echo "edge log (last lines):"; tail -20 "$WORK/edge.log"
  tail -1 "$WORK/out"
fi
exit "$rc"
