#!/usr/bin/env bash
# make bench-hostile: one edge with a 512 MiB memory budget and an nginx
# origin on loopback, driven by services/edge/cmd/benchhostile through a
# storm of heavy misses, slow clients and cache hits at once. Exits non-zero
# when the edge's peak RSS passed its budget, an answer was other than 200
# or 503 + Retry-After, or the edge died. Sources are made once with
# libvips' CLI from Debian's sample photos and kept in .dev/bench-hostile.
set -euo pipefail
LOG_TAG="[bench-hostile]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/benchstack.sh
source "$SCRIPTS/lib/benchstack.sh"
ROOT=$(repo_root)
cd "$ROOT"
BUDGET=${PICTOR_BENCH_HOSTILE_BUDGET:-512MiB}
ORIGIN_PORT=18180 EDGE_PORT=18181
PHOTO=/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg
HIT_PHOTO=/usr/share/backgrounds/mate/nature/Garden.jpg
bench_need nginx vips vipsheader curl
[[ -f $PHOTO ]] || die "$PHOTO missing (bash scripts/bootstrap.sh installs mate-backgrounds)"

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

bench_init pictor-bench-hostile
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
W=$BENCH_WORK

echo "== building"
bench_build edge benchhostile

bench_nginx origin "$ORIGIN_PORT" 1 "$SRC/www" \
	'location /90/ { try_files /big.jpg =404; } location /20/ { try_files /20mb.jpg =404; }'
bench_standalone_config "$W/pictor.yaml" "http://127.0.0.1:$ORIGIN_PORT"
bench_edge edge "$EDGE_PORT" "$W/pictor.yaml" PICTOR_LOG_LEVEL=info PICTOR_EDGE_MEMORY_LIMIT="$BUDGET"
EDGE_PID=$(bench_pid edge)
grep -m1 'memory budget' "$W/edge.log" || true
echo "== storm: machine $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
"$W/benchhostile" -edge "http://127.0.0.1:$EDGE_PORT" -pid "$EDGE_PID" -budget "$BUDGET" || rc=$?
pid_alive "$EDGE_PID" || show_log_tail "$W/edge.log" 20
exit "$rc"
