#!/usr/bin/env bash
# Builds Pictor's binaries: controlplane, edge and the dev stack's demo-origin.
# The dashboard (web/, npm run build) is built first: the control plane
# embeds it.
#
#   scripts/build.sh [OUT_DIR]    (default .dev/bin; make build)
set -euo pipefail

LOG_TAG="[build]"
# shellcheck source=scripts/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"
ROOT=$(repo_root)
OUT=${1:-$ROOT/.dev/bin}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)

cd "$ROOT"
# Build in workspace mode whatever the caller's GOWORK says.
export GOWORK="$ROOT/go.work"
started=$SECONDS
# npm ci when web/node_modules is missing (scripts/bootstrap.sh normally did it).
if [[ ! -d web/node_modules ]]; then
	(cd web && npm ci --no-audit --no-fund)
fi
# The edge (the longest build: cgo and libvips) needs no dashboard, so it
# builds while the dashboard and then the control plane, which embeds it,
# do.
go build -o "$OUT/edge" ./services/edge/cmd/edge &
edge_pid=$!
if ! (cd web && npm run --silent build); then
	wait "$edge_pid" || true
	die "building the dashboard (npm run build in web/) failed"
fi
go build -o "$OUT/controlplane" ./services/controlplane/cmd/controlplane || { wait "$edge_pid" || true; die "building controlplane failed"; }
wait "$edge_pid" || die "building edge failed"
# The demo origin is a single stdlib-only file outside every module.
GOWORK=off go build -o "$OUT/demo-origin" ./scripts/demo-origin/main.go
msg "built the dashboard, controlplane, edge, demo-origin into $OUT in $((SECONDS - started))s"
