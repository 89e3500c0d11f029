#!/usr/bin/env bash
# Regenerates the Go code for every .proto under proto/pictor with protoc and
# the pinned plugins in .dev/bin (installed by scripts/bootstrap.sh).
#
#   scripts/gen.sh          regenerate in place (make gen)
#   scripts/gen.sh --check  regenerate into a temporary copy and fail if the
#                           committed files differ (make check-gen)
set -euo pipefail

LOG_TAG="[gen]"
# shellcheck source=scripts/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"
ROOT=$(repo_root)

check=0
case ${1:-} in
"") ;;
--check) check=1 ;;
*) die "usage: $0 [--check]" ;;
esac

# The plugins are pinned; bootstrap installs them (it is quick when present).
"$ROOT/scripts/bootstrap.sh" --gen >&2
export PATH="$ROOT/.dev/bin:$PATH"

# generate DIR: regenerates DIR/pictor/**/*.pb.go from DIR/pictor/**/*.proto.
generate() {
	local dir=$1 protos=()
	mapfile -t protos < <(cd "$dir" && find pictor -name '*.proto' | LC_ALL=C sort)
	((${#protos[@]} > 0)) || die "no .proto files under $dir/pictor"
	# Remove old output first so a deleted .proto leaves no stale code behind.
	find "$dir/pictor" -name '*.pb.go' -delete
	(cd "$dir" && protoc -I . \
		--go_out=. --go_opt=module=pictor/proto \
		--go-grpc_out=. --go-grpc_opt=module=pictor/proto \
		"${protos[@]}")
}

if ((check == 0)); then
	generate "$ROOT/proto"
	msg "regenerated $(find "$ROOT/proto/pictor" -name '*.pb.go' | wc -l) files under proto/pictor"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -R "$ROOT/proto" "$tmp/proto"
generate "$tmp/proto"

# Compare the set of generated files and their contents.
drift=0
if ! diff -u \
	<(cd "$ROOT/proto" && find pictor -name '*.pb.go' | LC_ALL=C sort) \
	<(cd "$tmp/proto" && find pictor -name '*.pb.go' | LC_ALL=C sort) >"$tmp/files.diff"; then
	drift=1
	echo "generated file set differs (- committed, + regenerated):" >&2
	sed '1,2d' "$tmp/files.diff" >&2
fi
while IFS= read -r f; do
	[[ -f $ROOT/proto/$f ]] || continue
	if ! diff -u --label "committed proto/$f" --label "regenerated proto/$f" \
		"$ROOT/proto/$f" "$tmp/proto/$f" >"$tmp/content.diff"; then
		drift=1
		head -n 60 "$tmp/content.diff" >&2
	fi
done < <(cd "$tmp/proto" && find pictor -name '*.pb.go' | LC_ALL=C sort)

if ((drift)); then
	die "generated protobuf code is out of date with the .proto files (protoc: $(protoc --version)); run 'make gen' and commit the result"
fi
msg "ok: generated code under proto/pictor matches the .proto files"
