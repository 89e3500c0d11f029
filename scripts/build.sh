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

# have_vips says whether pkg-config finds libvips; without Debian's
# libvips-dev, the edge builds against the headers scripts/bootstrap.sh
# unpacked into .dev/vips.
have_vips() {
	pkg-config --exists vips 2>/dev/null && return 0
	[[ -f $ROOT/.dev/vips/lib/pkgconfig/vips.pc ]] || return 1
	[[ :${PKG_CONFIG_PATH:-}: == *":$ROOT/.dev/vips/lib/pkgconfig:"* ]] ||
		export PKG_CONFIG_PATH="$ROOT/.dev/vips/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
	pkg-config --exists vips 2>/dev/null
}
have_vips || true

# buildable_deps lists the packages the binaries import that can be
# compiled now: all but those that ask pkg-config for libvips while it
# has none (bimg), those that cannot be built yet (the dashboard's embed,
# before npm run build), and the packages that import either. go list
# prints a package's dependencies before it, so one pass marks the
# dependents.
# $1 is 1 when have_vips.
buildable_deps() {
	local vips=$1
	go list -e -deps -f '{{.ImportPath}} {{.Name}} {{if or .Error .DepsErrors}}2{{else if .CgoPkgConfig}}1{{else}}0{{end}} {{join .Deps " "}}' "${MAINS[@]}" |
		awk -v vips="$vips" '{
			bad = $3 == 2 || ($3 == 1 && !vips)
			for (i = 4; i <= NF && !bad; i++) bad = ($i in needs)
			if (bad) needs[$1] = 1
			else print $1
		}'
}

# compile_deps puts what buildable_deps lists into the build cache.
# go list -export compiles as go build does (the same cache entries), but
# links nothing: a build ahead that includes the mains leaves only their
# links to the build.
compile_deps() {
	local pkgs vips=0
	# Here, not in buildable_deps' subshell: have_vips sets PKG_CONFIG_PATH
	# for go build.
	! have_vips || vips=1
	pkgs=$(buildable_deps "$vips") || die "listing the binaries' packages failed"
	# shellcheck disable=SC2086 # one word per package
	go list -export $pkgs >/dev/null || die "compiling the binaries' packages failed"
	COMPILED=$(wc -w <<<"$pkgs")
}

# --ahead does what it can of a build while scripts/dev.sh has the
# bootstrap install system packages: the dashboard's npm packages and its
# build, every Go package that needs no libvips, then, once the bootstrap
# has unpacked libvips' headers (or PICTOR_AHEAD_UNTIL, a file dev.sh
# makes when the bootstrap is done, exists), the rest. On a
# new machine that is all of a cold build but the links.
if [[ ${1:-} == --ahead ]]; then
	started=$SECONDS
	if ! { "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" --web && (cd web && npm run --silent build); }; then
		msg "installing or building the dashboard failed; going on with the Go packages"
	fi
	compile_deps
	if ! have_vips; then
		until have_vips || [[ -e ${PICTOR_AHEAD_UNTIL:-/} ]]; do
			sleep 1
		done
		! have_vips || compile_deps
	fi
	msg "built the dashboard and $COMPILED packages the binaries import, ahead, in $((SECONDS - started))s"
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
# The demo origin is a single stdlib-only file outside every module.
GOWORK=off go build -o "$OUT/demo-origin" ./scripts/demo-origin/main.go &
origin_pid=$!
if ! (cd web && npm run --silent build); then
	wait "$edge_pid" "$origin_pid" || true
	die "building the dashboard (npm run build in web/) failed"
fi
go build -o "$OUT/controlplane" "${MAINS[1]}" || { wait "$edge_pid" "$origin_pid" || true; die "building controlplane failed"; }
wait "$edge_pid" || die "building edge failed"
wait "$origin_pid" || die "building demo-origin failed"
msg "built the dashboard, controlplane, edge, demo-origin into $OUT in $((SECONDS - started))s"
