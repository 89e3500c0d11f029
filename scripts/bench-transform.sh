#!/usr/bin/env bash
# Transform throughput of the edge's engine next to libvips' own
# vipsthumbnail doing the same work on the same files, in one run, plus
# AVIF encode times and peak RSS of 16 concurrent 12-megapixel transforms;
# then the engine next to bimg.Resize doing the same operations (issue 14:
# bimg or not, by measurement).
# How each comparison is kept fair is written at the top of
# services/edge/cmd/benchtransform/main.go and bimg.go; results go in
# docs/benchmarks.md.
# Usage: scripts/bench-transform.sh  (PICTOR_BENCH_TRANSFORM_N, _ROUNDS and
# PICTOR_BENCH_BIMG_ROUNDS tune it; PICTOR_BENCH_BIMG=only or =skip runs
# just one part)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for tool in vipsthumbnail vips go; do
  command -v "$tool" >/dev/null || { echo "bench-transform: $tool missing (scripts/bootstrap.sh --bench installs libvips-tools)" >&2; exit 1; }
done
[ -d /usr/share/backgrounds/mate ] || { echo "bench-transform: /usr/share/backgrounds/mate missing (install mate-backgrounds)" >&2; exit 1; }
BIN="$(mktemp -d /tmp/pictor-benchtransform.XXXXXX)"
trap 'rm -rf "$BIN"' EXIT
GOWORK=off go build -C services/edge -o "$BIN/benchtransform" ./cmd/benchtransform
if [ "${PICTOR_BENCH_BIMG:-}" != only ]; then
  "$BIN/benchtransform" -n "${PICTOR_BENCH_TRANSFORM_N:-120}" -rounds "${PICTOR_BENCH_TRANSFORM_ROUNDS:-3}"
fi
if [ "${PICTOR_BENCH_BIMG:-}" != skip ]; then
  "$BIN/benchtransform" -bimg -bimg-rounds "${PICTOR_BENCH_BIMG_ROUNDS:-9}"
fi
