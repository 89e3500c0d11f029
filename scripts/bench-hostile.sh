#!/usr/bin/env bash
# make bench-hostile: one edge with a 512 MiB memory budget and an nginx
# origin on loopback, driven by services/edge/cmd/benchhostile through a
# storm of heavy misses, slow clients and cache hits at once. Exits non-zero
# when the edge's peak RSS passed its budget, an answer was other than 200
# or 503 + Retry-After, or the edge died. Sources are made once with
# libvips' CLI from Debian's sample photos and kept in .dev/bench-hostile.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUDGET=${PICTOR_BENCH_HOSTILE_BUDGET:-512MiB}
ORIGIN_PORT=18180 EDGE_PORT=18181
PHOTO=/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg
HIT_PHOTO=/usr/share/backgrounds/mate/nature/Garden.jpg
for tool in nginx vips; do
  command -v "$tool" >/dev/null || { echo "bench-hostile: $tool missing (scripts/bootstrap.sh --bench installs it)" >&2; exit 1; }
done
[ -f "$PHOTO" ] || { echo "bench-hostile: $PHOTO missing (install mate-backgrounds)" >&2; exit 1; }

SRC="$ROOT/.dev/bench-hostile"
mkdir -p "$SRC"
# make_sources: a ~35 MB 90-megapixel JPEG (a photo enlarged to
# 10942×8206 with grain, so it does not compress like a smooth upscale)
# and a ~20 MB 7000×5250 one cut from it.
make_sources() {
  [ -s "$SRC/big.jpg" ] && [ -s "$SRC/20mb.jpg" ] && return
  echo "== making sources (once) in $SRC"
  local t="$SRC/tmp"
  mkdir -p "$t"
  vips resize "$PHOTO" "$t/up.v" 1.94
  vips gaussnoise "$t/noise.v" 10942 8206 --sigma 22
  vips bandjoin "$t/noise.v $t/noise.v $t/noise.v" "$t/n3.v"
  vips embed "$t/up.v" "$t/canvas.v" 0 0 10942 8206 --extend mirror
  vips add "$t/canvas.v" "$t/n3.v" "$t/sum.v"
  vips cast "$t/sum.v" "$t/grain.v" uchar
  vips jpegsave "$t/grain.v" "$SRC/big.jpg" --Q 89
  vips crop "$t/grain.v" "$t/crop.v" 0 0 7000 5250
  vips jpegsave "$t/crop.v" "$SRC/20mb.jpg" --Q 91
  rm -rf "$t"
}
make_sources
mkdir -p "$SRC/www/hit"
cp -f "$HIT_PHOTO" "$SRC/www/hit/photo.jpg"
ln -sf "$SRC/big.jpg" "$SRC/www/big.jpg"
ln -sf "$SRC/20mb.jpg" "$SRC/www/20mb.jpg"
printf 'sources: %s (%s, %s bytes), %s (%s, %s bytes)\n' \
  big.jpg "$(vipsheader "$SRC/big.jpg" | cut -d' ' -f2)" "$(stat -Lc %s "$SRC/big.jpg")" \
  20mb.jpg "$(vipsheader "$SRC/20mb.jpg" | cut -d' ' -f2)" "$(stat -Lc %s "$SRC/20mb.jpg")"

WORK="$(mktemp -d /tmp/pictor-bench-hostile.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PICTOR_BENCH_KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== building"
GOWORK=off go build -C services/edge -o "$WORK/edge" ./cmd/edge
GOWORK=off go build -C services/edge -o "$WORK/benchhostile" ./cmd/benchhostile

cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  types { image/jpeg jpg; }
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    root $SRC/www;
    location /90/ { try_files /big.jpg =404; }
    location /20/ { try_files /20mb.jpg =404; }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -g 'daemon off;' &
PIDS+=($!)

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
  PICTOR_EDGE_MEMORY_LIMIT="$BUDGET" "$WORK/edge" --config "$WORK/pictor.yaml" >"$WORK/edge.log" 2>&1 &
EDGE_PID=$!
PIDS+=($EDGE_PID)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null && break; sleep 0.1; done
grep -m1 'memory budget' "$WORK/edge.log" || true
echo "== storm: machine $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
"$WORK/benchhostile" -edge "http://127.0.0.1:$EDGE_PORT" -pid "$EDGE_PID" -budget "$BUDGET" || rc=$?
if ! kill -0 "$EDGE_PID" 2>/dev/null; then
  echo "edge log (last lines):"; tail -20 "$WORK/edge.log"
fi
exit "$rc"
