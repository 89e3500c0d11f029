#!/usr/bin/env bash
# gofmt over every Go file of the repository except generated *.pb.go.
#
#   scripts/gofmt.sh -l   list unformatted files; exit 1 if there are any
#   scripts/gofmt.sh -w   rewrite them in place (make fmt)
set -euo pipefail

LOG_TAG="[gofmt]"
# shellcheck source=scripts/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"
ROOT=$(repo_root)
mode=${1:--l}
[[ $mode == -l || $mode == -w ]] || die "usage: $0 -l|-w"

cd "$ROOT"
files=()
mapfile -t files < <(find . \( -name .git -o -name .dev -o -name node_modules \) -prune -o \
	-type f -name '*.go' ! -name '*.pb.go' -print | LC_ALL=C sort)
((${#files[@]} > 0)) || exit 0

if [[ $mode == -w ]]; then
	gofmt -w "${files[@]}"
	exit 0
fi
bad=$(gofmt -l "${files[@]}")
if [[ -n $bad ]]; then
	echo "these files are not gofmt-formatted (run 'make fmt'):" >&2
	while IFS= read -r f; do printf '  %s\n' "$f" >&2; done <<<"$bad"
	exit 1
fi
msg "ok: ${#files[@]} Go files formatted"
