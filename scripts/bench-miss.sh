#!/usr/bin/env bash
# make bench-miss: cold-miss throughput of one edge (standalone, no Redis)
# against its own transform engine on the same work, in one run. An nginx
# origin on loopback serves one 12 MP JPEG under every path of /12/ and one
# 18 MP JPEG under /18/; wrk makes every request a new path, at each
# concurrency in PICTOR_BENCH_MISS_CONNS, for tr:w-300,q-80 (12 MP) and
# tr:w-800,f-webp (18 MP). services/edge/cmd/benchmiss alternates engine and
# edge runs, prints edge req/s ÷ engine img/s (medians) and the edge's peak
# RSS, and exits non-zero when a ratio is under the target (0.95) or a
# request failed; its last line is the summary. Sources are made once with
# libvips' CLI from Debian's sample photos and kept in .dev/bench-miss.
# Knobs: PICTOR_BENCH_MISS_SECONDS (each run, default 8),
# PICTOR_BENCH_MISS_ROUNDS (default 3), PICTOR_BENCH_MISS_CONNS (default
# 4,16), PICTOR_TRANSFORM_WORKERS (both sides; default the edge's, 2 × cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/proc.sh
source scripts/lib/proc.sh
ROOT=$PWD
ORIGIN_PORT=18380 EDGE_PORT=18381
PHOTO=/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg
SECONDS_EACH=${PICTOR_BENCH_MISS_SECONDS:-8}
ROUNDS=${PICTOR_BENCH_MISS_ROUNDS:-3}
CONNS=${PICTOR_BENCH_MISS_CONNS:-4,16}
# Set explicitly on both sides: the edge's default is 2 × GOMAXPROCS.
WORKERS=${PICTOR_TRANSFORM_WORKERS:-$((2 * $(nproc)))}
for tool in nginx vips vipsheader wrk curl go; do
  command -v "$tool" >/dev/null || { echo "bench-miss: $tool missing (scripts/bootstrap.sh --bench installs it)" >&2; exit 1; }
done
[ -f "$PHOTO" ] || { echo "bench-miss: $PHOTO missing (install mate-backgrounds)" >&2; exit 1; }
for port in $ORIGIN_PORT $EDGE_PORT; do
  ! port_in_use "$port" || { echo "bench-miss: 127.0.0.1:$port is taken (another bench-miss running?)" >&2; exit 1; }
done

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

WORK="$(mktemp -d /tmp/pictor-bench-miss.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do stop_pid "$p" 5 || true; done
  if [ -n "${PICTOR_BENCH_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building"
GOWORK=off go build -C services/edge -o "$WORK/edge" ./cmd/edge
GOWORK=off go build -C services/edge -o "$WORK/benchmiss" ./cmd/benchmiss

# One nginx process (no master), so its pid is the one whose CPU time the
# driver reports.
cat >"$WORK/nginx.conf" <<NGINX
master_process off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  types { image/jpeg jpg; }
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    root $SRC;
    location /12/ { try_files /12mp.jpg =404; }
    location /18/ { try_files /18mp.jpg =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -g 'daemon off;' &
ORIGIN_PID=$!
PIDS+=("$ORIGIN_PID")

cat >"$WORK/pictor.yaml" <<YAML
accounts:
  - id: bench
    status: active
    origins:
      - {id: o, type: WEB_FOLDER, name: o, baseUrl: "http://127.0.0.1:$ORIGIN_PORT"}
    endpoints:
      - {id: default, urlPrefix: "", originIds: [o]}
YAML
PICTOR_EDGE_ADDR="127.0.0.1:$EDGE_PORT" PICTOR_ALLOW_PRIVATE_ORIGINS=true PICTOR_LOG_LEVEL=info \
  PICTOR_TRANSFORM_WORKERS="$WORKERS" "$WORK/edge" --config "$WORK/pictor.yaml" >"$WORK/edge.log" 2>&1 &
EDGE_PID=$!
PIDS+=("$EDGE_PID")
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null || { echo "bench-miss: the edge did not get ready:" >&2; tail -20 "$WORK/edge.log" >&2; exit 2; }
# The budget's work share bounds the origin bodies and transforms in flight.
grep -m1 'memory budget' "$WORK/edge.log" || true
echo "== cold misses: machine $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $WORKERS transform workers, $ROUNDS × ${SECONDS_EACH}s per side and concurrency ($CONNS)"
rc=0
TMPDIR="$WORK" "$WORK/benchmiss" -edge "http://127.0.0.1:$EDGE_PORT" -pid "$EDGE_PID" -origin-pid "$ORIGIN_PID" \
  -src12 "$SRC/12mp.jpg" -src18 "$SRC/18mp.jpg" -workers "$WORKERS" -c "$CONNS" \
  -duration "${SECONDS_EACH}s" -rounds "$ROUNDS" | tee "$WORK/out" || rc=$?
if ! pid_alive "$EDGE_PID" || grep -q 'level=ERROR' "$WORK/edge.log"; then
  # Told after the fact, then the summary again so that it stays last.
  echo "edge log (last lines):"; tail -20 "$WORK/edge.log"
  tail -1 "$WORK/out"
fi
exit "$rc"
