#!/usr/bin/env bash
# Builds Pictor's binaries: controlplane, edge and the dev stack's demo-origin.
# The dashboard (web/, npm run build) is built first: the control plane
# embeds it.
#
#   scripts/build.sh [OUT_DIR]    (default .dev/bin; make build)
#   scripts/build.sh --ahead      what needs no system package (scripts/dev.sh)
set -euo pipefail

LOG_TAG="[build]"
# shellcheck source=scripts/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"
ROOT=$(repo_root)
MAINS=(./services/edge/cmd/edge ./services/controlplane/cmd/controlplane)

cd "$ROOT"
# Build in workspace mode whatever the caller's GOWORK says.
export GOWORK="$ROOT/go.work"

# Without Debian's libvips-dev, the edge builds against the headers that
# scripts/bootstrap.sh unpacked into .dev/vips.
if ! pkg-config --exists vips 2>/dev/null && [[ -f $ROOT/.dev/vips/lib/pkgconfig/vips.pc ]]; then
	export PKG_CONFIG_PATH="$ROOT/.dev/vips/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

# standalone_deps lists the packages the binaries import that compile with
# Go and gcc alone, before anything is installed or built: all but those
# that ask pkg-config for a system library (bimg → libvips), those that
# cannot be built yet (the dashboard's embed, before npm run build), and
# the packages that import either; nor the mains, which go build would
# link to throw away. go list prints a package's dependencies before it,
# so one pass marks the dependents.
standalone_deps() {
	go list -e -deps -f '{{.ImportPath}} {{.Name}} {{if or .Error .DepsErrors}}1{{else}}{{len .CgoPkgConfig}}{{end}} {{join .Deps " "}}' "${MAINS[@]}" |
		awk '{
			bad = $3 > 0
			for (i = 4; i <= NF && !bad; i++) bad = ($i in needs)
			if (bad) needs[$1] = 1
			else if ($2 != "main") print $1
		}'
}

# --ahead does the part of a build that needs no system package while
# scripts/dev.sh has the bootstrap install them: the dashboard's npm
# packages and its build, then what standalone_deps lists into the build
# cache. On a new machine that is most of a cold build.
if [[ ${1:-} == --ahead ]]; then
	started=$SECONDS
	if ! { "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" --web && (cd web && npm run --silent build); }; then
		msg "installing or building the dashboard failed; going on with the Go packages"
	fi
	pkgs=$(standalone_deps) || die "listing the binaries' packages failed"
	# shellcheck disable=SC2086 # one word per package
	go build $pkgs || die "compiling the binaries' packages failed"
	msg "built the dashboard and $(wc -w <<<"$pkgs") packages the binaries import, ahead, in $((SECONDS - started))s"
	exit 0
fi

OUT=${1:-$ROOT/.dev/bin}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)
started=$SECONDS
# npm ci when web/node_modules is missing (scripts/bootstrap.sh normally did it).
if [[ ! -d web/node_modules ]]; then
	(cd web && npm ci --no-audit --no-fund)
fi
# The edge (the longest build: cgo and libvips) needs no dashboard, so it
# builds while the dashboard and then the control plane, which embeds it,
# do.
go build -o "$OUT/edge" "${MAINS[0]}" &
edge_pid=$!
if ! (cd web && npm run --silent build); then
	wait "$edge_pid" || true
	die "building the dashboard (npm run build in web/) failed"
fi
go build -o "$OUT/controlplane" "${MAINS[1]}" || { wait "$edge_pid" || true; die "building controlplane failed"; }
wait "$edge_pid" || die "building edge failed"
# The demo origin is a single stdlib-only file outside every module.
GOWORK=off go build -o "$OUT/demo-origin" ./scripts/demo-origin/main.go
msg "built the dashboard, controlplane, edge, demo-origin into $OUT in $((SECONDS - started))s"
