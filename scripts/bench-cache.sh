#!/usr/bin/env bash
# Cache-hit throughput of one edge next to nginx serving the same bytes as a
# static file, plus a mixed workload (95 % repeats over 1,000 variants,
# Zipf-like, 5 % new variants that must be transformed). Loopback only,
# bounded durations. Usage: scripts/bench-cache.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10}"
CONNS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
PHOTO_DIR=/usr/share/backgrounds/mate
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "bench-cache: $tool missing (scripts/bootstrap.sh --bench installs it)" >&2; exit 1; }
done
[ -d "$PHOTO_DIR" ] || { echo "bench-cache: $PHOTO_DIR missing (install mate-backgrounds)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/pictor-bench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ORIGIN_PORT=18079 EDGE_PORT=18081 NGINX_PORT=18083
echo "== building"
GOWORK=off go build -C services/edge -o "$WORK/edge" ./cmd/edge
GOWORK=off go build -o "$WORK/demo-origin" ./scripts/demo-origin/main.go

"$WORK/demo-origin" -addr "127.0.0.1:$ORIGIN_PORT" -dir "$PHOTO_DIR" >"$WORK/origin.log" 2>&1 &
PIDS+=($!)
cat >"$WORK/pictor.yaml" <<YAML
accounts:
  - id: bench
    status: active
    origins:
      - {id: photos, type: WEB_FOLDER, name: photos, baseUrl: "http://127.0.0.1:$ORIGIN_PORT"}
    endpoints:
      - {id: default, urlPrefix: "", originIds: [photos]}
YAML
PICTOR_EDGE_ADDR="127.0.0.1:$EDGE_PORT" PICTOR_ALLOW_PRIVATE_ORIGINS=true PICTOR_LOG_LEVEL=warn \
PICTOR_L1_CACHE_BYTES=$((512 << 20)) "$WORK/edge" --config "$WORK/pictor.yaml" >"$WORK/edge.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$EDGE_PORT/readyz" >/dev/null && break; sleep 0.1; done

URL_PATH="/bench/tr:w-640,q-80/nature/Garden.jpg"
curl -fs -o "$WORK/variant.jpg" "http://127.0.0.1:$EDGE_PORT$URL_PATH"
SIZE=$(stat -c %s "$WORK/variant.jpg")
echo "variant: $URL_PATH ($SIZE bytes)"

mkdir -p "$WORK/www"
cp "$WORK/variant.jpg" "$WORK/www/variant.jpg"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  types { image/jpeg jpg; }
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/www; }
}
NGINX
nginx -c "$WORK/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGINX_PORT/variant.jpg" && break; sleep 0.1; done

run_wrk() { wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency "$@"; }
rps() { awk '/Requests\/sec/ {print $2}'; }
p99() { awk '$1 == "99%" {print $2}'; }

ROUNDS="${BENCH_ROUNDS:-3}"
echo "== cache hits: edge (HIT-L1) vs nginx static, $CONNS connections, ${DUR}s each, $ROUNDS alternating rounds"
RATIOS=()
for round in $(seq "$ROUNDS"); do
  run_wrk "http://127.0.0.1:$EDGE_PORT$URL_PATH" >"$WORK/edge.wrk"
  run_wrk "http://127.0.0.1:$NGINX_PORT/variant.jpg" >"$WORK/nginx.wrk"
  E_RPS=$(rps <"$WORK/edge.wrk"); N_RPS=$(rps <"$WORK/nginx.wrk")
  RATIO=$(awk -v e="$E_RPS" -v n="$N_RPS" 'BEGIN { printf "%.2f", e / n }')
  RATIOS+=("$RATIO")
  printf 'round %d: edge %10s req/s (p99 %s)   nginx %10s req/s (p99 %s)   ratio %s   load %s\n' "$round" \
    "$E_RPS" "$(p99 <"$WORK/edge.wrk")" "$N_RPS" "$(p99 <"$WORK/nginx.wrk")" "$RATIO" "$(cut -d' ' -f1 /proc/loadavg)"
done
printf 'median ratio edge/nginx: %s (target >= 0.80)\n' "$(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"

echo "== mixed: 95 % repeats over 1,000 warmed variants (Zipf-like), 5 % new variants"
for w in $(seq 100 1099); do echo "/bench/tr:w-$w/nature/Garden.jpg"; done >"$WORK/hot.txt"
xargs -P 4 -I{} curl -fs -o /dev/null "http://127.0.0.1:$EDGE_PORT{}" <"$WORK/hot.txt"
cat >"$WORK/mixed.lua" <<'LUA'
local hot = {}
for line in io.lines(os.getenv("HOT_FILE")) do hot[#hot + 1] = line end
local counter = 0
math.randomseed(42)
request = function()
  counter = counter + 1
  if math.random() < 0.05 then
    -- a variant no one asked for yet: a real miss with a transform
    -- realistic sizes (100..1999 px) made unique by the quality value
    return wrk.format("GET", "/bench/tr:w-" .. (100 + counter % 1900) .. ",q-" .. (20 + math.floor(counter / 1900) % 80) .. "/nature/Garden.jpg")
  end
  -- Zipf-like: low indices are far more popular than high ones
  local i = math.floor(#hot * math.random() ^ 3) + 1
  return wrk.format("GET", hot[i])
end
LUA
HOT_FILE="$WORK/hot.txt" run_wrk -s "$WORK/mixed.lua" "http://127.0.0.1:$EDGE_PORT" >"$WORK/mixed.wrk"
printf 'mixed    %12s req/s   p99 %s   non-2xx: %s\n' "$(rps <"$WORK/mixed.wrk")" "$(p99 <"$WORK/mixed.wrk")" \
  "$(awk '/Non-2xx/ {print $NF}' "$WORK/mixed.wrk" | grep . || echo 0)"
