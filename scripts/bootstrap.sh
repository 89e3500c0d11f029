#!/usr/bin/env bash
# Installs everything Pictor's scripts need on Debian 12 that is not there
# yet: with no option, what make run needs (libvips, Postgres, Redis, sample
# photos, fonts, the dashboard's npm packages; --system all but the npm
# packages, --web only those); --gen adds protoc and the
# pinned plugins (into .dev/bin); --test adds those and what only the tests
# use (Chromium, wrk, SeaweedFS, Azurite, promtool); --bench what the
# benchmarks use. Go >= 1.26 and Node >= 20 must already be on the PATH.
# Safe to run again: when nothing is missing it only checks.
set -euo pipefail

LOG_TAG="[bootstrap]"
# shellcheck source=scripts/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"
ROOT=$(repo_root)
BIN_DIR="$ROOT/.dev/bin"

MIN_GO_MAJOR=1 MIN_GO_MINOR=26
MIN_NODE_MAJOR=20

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0
HELM_VERSION=v3.21.4

# System packages make run needs: the build, the dev stack and the demo.
PACKAGES=(
	ca-certificates curl jq procps util-linux make # script tools (runuser is in util-linux)
	gcc libc6-dev pkg-config libvips42             # cgo build of the edge (bimg → libvips; headers: install_vips_headers)
	postgresql postgresql-client                   # dev stack and integration tests
	redis-server                                   # L2 cache in the dev stack and tests
	mate-backgrounds                               # sample photos for the demo origin
	fonts-dejavu-core fonts-lohit-deva fonts-wqy-microhei fontconfig # text layers: DejaVu sans/serif/mono; Devanagari, CJK by fallback; fc-scan checks tenant fonts
	opencv-data                                    # fo-face: OpenCV's frontal face cascade (data only, no library)
)
# make gen / check-gen: protoc and the well-known types (the pinned Go
# plugins go into .dev/bin).
GEN_PACKAGES=(protobuf-compiler libprotobuf-dev)
# make test, on top: the generator (check-gen), a load generator
# (cmd/benchmiss tests its script), libvips' CLI, and the browser the
# dashboard tests drive. None of it is needed to run Pictor, so make run
# does not wait for it (Chromium alone is most of a first install).
TEST_PACKAGES=("${GEN_PACKAGES[@]}" wrk libvips-tools chromium libvips-dev)

# make bench also needs a reference static server; it is installed only
# then, since Debian's nginx starts a service on :80. make test also needs
# an S3-compatible server (SeaweedFS, built from source below), Azurite
# and promtool; make run does none of these.
# make run installs the dashboard's npm packages alongside the system ones
# (scripts/dev.sh): --system leaves them out, --web does only them.
WANT_TEST=0 WANT_GEN=0 WANT_SYSTEM=1 WANT_WEB=1 VIPS_HEADERS=1
case ${1:-} in
--bench) PACKAGES+=(nginx-light wrk libvips-tools libvips-dev) VIPS_HEADERS=0 ;;
--test) PACKAGES+=("${TEST_PACKAGES[@]}") WANT_TEST=1 WANT_GEN=1 VIPS_HEADERS=0 ;;
--gen) PACKAGES+=("${GEN_PACKAGES[@]}") WANT_GEN=1 ;;
--system) WANT_WEB=0 ;;
--web) WANT_SYSTEM=0 ;;
"") ;;
*) die "unknown option $1 (want --test, --bench, --gen, --system, --web or none)" ;;
esac

started=$SECONDS

check_go() {
	local v major minor
	command -v go >/dev/null ||
		die "Go ${MIN_GO_MAJOR}.${MIN_GO_MINOR} or newer is required, but 'go' is not on the PATH (if it is installed in /usr/local/go: export PATH=/usr/local/go/bin:\$PATH)"
	v=$(go env GOVERSION)
	[[ $v =~ ^go([0-9]+)\.([0-9]+) ]] || die "cannot read the Go version from '$v'"
	major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
	if ((major < MIN_GO_MAJOR || (major == MIN_GO_MAJOR && minor < MIN_GO_MINOR))); then
		die "Go ${MIN_GO_MAJOR}.${MIN_GO_MINOR} or newer is required, found $v at $(command -v go)"
	fi
	GO_VERSION=$v
}

check_node() {
	local v
	command -v node >/dev/null ||
		die "Node ${MIN_NODE_MAJOR} or newer is required, but 'node' is not on the PATH"
	v=$(node --version)
	[[ $v =~ ^v([0-9]+)\. ]] || die "cannot read the Node version from '$v'"
	((BASH_REMATCH[1] >= MIN_NODE_MAJOR)) ||
		die "Node ${MIN_NODE_MAJOR} or newer is required, found $v at $(command -v node)"
	NODE_VERSION=$v
}

install_packages() {
	if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
		die "this script installs system packages with apt; it supports Debian 12"
	fi
	local status missing=() p
	status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)
	for p in "${PACKAGES[@]}"; do
		awk -v p="$p" '$1 == p && $2 == "ii" {found = 1} END {exit !found}' <<<"$status" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	local sudo=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null ||
			die "missing packages (${missing[*]}); run this script as root or install sudo"
		sudo=(sudo)
	fi
	msg "installing: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	if ((VIPS_HEADERS)); then
		# The cgo toolchain and libvips' headers come first, so that
		# build.sh --ahead compiles the edge's cgo packages while apt
		# installs the rest.
		local first=() rest=()
		for p in "${missing[@]}"; do
			case $p in gcc | libc6-dev | pkg-config) first+=("$p") ;; *) rest+=("$p") ;; esac
		done
		if ((${#first[@]})); then
			"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${first[@]}"
		fi
		install_vips_headers
		missing=("${rest[@]}")
	fi
	if ((${#missing[@]})); then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
	INSTALLED_SOMETHING=1
}

# header_version PACKAGE: the version of PACKAGE installed, else the one
# apt would install.
header_version() {
	local v
	v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk '$1 == "ii" {print $2}')
	[[ -n $v ]] || v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[[ -n $v && $v != "(none)" ]] || die "apt knows no version of $1"
	echo "$v"
}

# install_vips_headers gives the edge's cgo build libvips' and GLib's
# headers without Debian's libvips-dev, which depends on the development
# package of every format libvips reads and on Python (163 more packages,
# half a minute of a first make run). The two .debs, at the versions of
# the libraries installed or about to be, are unpacked into .dev/vips with
# a pkg-config file of its own (libvips' headers include nothing but
# GLib's) and .so links to the libraries. It needs only apt's package
# lists, so install_packages calls it before apt installs anything, and
# scripts/build.sh --ahead compiles the cgo packages while apt runs; only
# the link waits for the libraries. build.sh uses .dev/vips when
# pkg-config knows no vips; make test and make bench install libvips-dev.
install_vips_headers() {
	local dir=$ROOT/.dev/vips vips_v glib_v want tmp deb root lib name version
	pkg-config --exists vips 2>/dev/null && return 0
	vips_v=$(header_version libvips42)
	glib_v=$(header_version libglib2.0-0)
	want="libvips-dev=$vips_v libglib2.0-dev=$glib_v"
	[[ -f $dir/version && $(<"$dir/version") == "$want" ]] && return 0
	msg "unpacking the headers of $want into .dev/vips"
	mkdir -p "$ROOT/.dev"
	tmp=$(mktemp -d "$ROOT/.dev/vips.XXXXXX")
	# apt-get download runs as the _apt user when it can: let it write.
	chmod 777 "$tmp"
	# shellcheck disable=SC2086 # two package=version words
	if ! (cd "$tmp" && apt-get download $want >/dev/null 2>&1); then
		# An installed library of an older point release than the archive
		# holds: the headers of the same upstream version do.
		msg "apt-get download $want failed; taking the versions apt has"
		(cd "$tmp" && apt-get download libvips-dev libglib2.0-dev >/dev/null) ||
			die "apt-get download libvips-dev libglib2.0-dev failed"
	fi
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root" || die "cannot unpack $deb"
	done
	root=$tmp/root
	lib=$(dirname "$(echo "$root"/usr/lib/*/libvips.so)")
	[[ -d $root/usr/include/vips && -d $root/usr/include/glib-2.0 && -f $lib/glib-2.0/include/glibconfig.h ]] ||
		die "libvips-dev or libglib2.0-dev has no headers where expected"
	version=$(sed -n 's/^Version: *//p' "$lib/pkgconfig/vips.pc")
	mkdir -p "$tmp/out/include" "$tmp/out/lib/pkgconfig" "$tmp/out/lib/glib-2.0"
	cp -r "$root/usr/include/vips" "$root/usr/include/glib-2.0" "$tmp/out/include/"
	cp -r "$lib/glib-2.0/include" "$tmp/out/lib/glib-2.0/"
	for name in libvips.so libglib-2.0.so libgobject-2.0.so libgio-2.0.so; do
		[[ -L $lib/$name ]] || die "no $name in libvips-dev or libglib2.0-dev"
		ln -s "${lib#"$root"}/$(readlink "$lib/$name")" "$tmp/out/lib/$name"
	done
	cat >"$tmp/out/lib/pkgconfig/vips.pc" <<-EOF
		prefix=$dir
		Name: vips
		Description: libvips and GLib headers from $want, for Pictor's edge (scripts/bootstrap.sh)
		Version: $version
		Libs: -L\${prefix}/lib -lvips -lgio-2.0 -lgobject-2.0 -lglib-2.0
		Cflags: -I\${prefix}/include -I\${prefix}/include/glib-2.0 -I\${prefix}/lib/glib-2.0/include -pthread
	EOF
	printf '%s\n' "$want" >"$tmp/out/version"
	# In place at once: build.sh --ahead may be waiting for it.
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
	PKG_CONFIG_PATH=$dir/lib/pkgconfig pkg-config --cflags --libs vips >/dev/null ||
		die "pkg-config cannot use $dir/lib/pkgconfig/vips.pc"
	INSTALLED_SOMETHING=1
}

# install_plugin NAME PACKAGE VERSION WANT: installs PACKAGE@VERSION into
# .dev/bin unless `NAME --version` already prints WANT.
install_plugin() {
	local name=$1 pkg=$2 version=$3 want=$4 have=
	if [[ -x $BIN_DIR/$name ]]; then
		have=$("$BIN_DIR/$name" --version 2>/dev/null || true)
	fi
	[[ $have == "$want" ]] && return 0
	msg "installing $name $version into .dev/bin"
	mkdir -p "$BIN_DIR"
	GOWORK=off GOBIN="$BIN_DIR" go install "$pkg@$version"
	have=$("$BIN_DIR/$name" --version 2>/dev/null || true)
	[[ $have == "$want" ]] || die "$name reports '$have' after install, want '$want'"
	INSTALLED_SOMETHING=1
}

# install_weed builds SeaweedFS's weed (Apache-2.0) at the version
# services/internal/s3test names, into the user cache where s3test looks:
# Debian ships no S3 server, and weed's go.mod has replace directives, so
# `go install pkg@version` refuses it and it is built inside its module.
# The first build takes minutes; later runs find it.
install_weed() {
	local version dest dir
	version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$ROOT/services/internal/s3test/s3test.go")
	[[ -n $version ]] || die "no SeaweedFS version in services/internal/s3test/s3test.go"
	dest=${XDG_CACHE_HOME:-$HOME/.cache}/pictor/weed-$version/weed
	[[ -x $dest ]] && return 0
	msg "building SeaweedFS weed $version (S3-compatible server for the tests; a few minutes, once)"
	dir=$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$version" | jq -r .Dir)
	[[ -d $dir ]] || die "could not download github.com/seaweedfs/seaweedfs@$version"
	mkdir -p "$(dirname "$dest")"
	(cd "$dir" && GOWORK=off GOFLAGS=-mod=mod go build -trimpath -o "$dest.tmp" ./weed) || die "building weed failed"
	mv "$dest.tmp" "$dest"
	INSTALLED_SOMETHING=1
}

# install_azurite: Microsoft's Azurite storage emulator from npm, pinned
# in scripts/azurite, for the Azure Blob origin tests (services/internal/
# azuretest); again whenever its lock file changes.
install_azurite() {
	local dir=$ROOT/scripts/azurite stamp=$ROOT/.dev/azurite.sum sum
	sum=$(cat "$dir/package.json" "$dir/package-lock.json" | cksum)
	if [[ -f $stamp && $(<"$stamp") == "$sum" && -x $dir/node_modules/.bin/azurite-blob ]]; then
		return 0
	fi
	msg "installing Azurite (npm ci in scripts/azurite)"
	(cd "$dir" && npm ci --no-audit --no-fund)
	mkdir -p "$(dirname "$stamp")"
	printf '%s\n' "$sum" >"$stamp"
	INSTALLED_SOMETHING=1
}

# install_web_deps: npm ci for the dashboard once web/package-lock.json
# exists, again whenever the lock file changes (a checksum in .dev records
# the last install) or node_modules is gone.
install_web_deps() {
	local web=$ROOT/web stamp=$ROOT/.dev/web-deps.sum sum deps
	[[ -f $web/package.json ]] || return 0
	[[ -f $web/package-lock.json ]] ||
		die "web/package.json has no package-lock.json next to it; run 'npm install' in web/ and commit the lock file"
	sum=$(cat "$web/package.json" "$web/package-lock.json" | cksum)
	# node, not jq: with --web this runs before apt has installed jq.
	deps=$(node -e 'console.log(Object.keys(require(process.argv[1]).packages || {}).length)' "$web/package-lock.json")
	if [[ -f $stamp && $(<"$stamp") == "$sum" ]] && { [[ -d $web/node_modules ]] || ((deps <= 1)); }; then
		return 0
	fi
	msg "installing the dashboard's npm packages (npm ci)"
	(cd "$web" && npm ci --no-audit --no-fund)
	mkdir -p "$(dirname "$stamp")"
	printf '%s\n' "$sum" >"$stamp"
	INSTALLED_SOMETHING=1
}

# install_promtool puts Prometheus's promtool (from Debian's prometheus
# package, which the alert rules' tests name) into .dev/bin, taken out of
# the package rather than installed: installing it would start a
# Prometheus server and pull in its web UI's libraries.
install_promtool() {
	local tmp deb
	[[ -x $BIN_DIR/promtool ]] && return 0
	msg "installing promtool (from Debian's prometheus package) into .dev/bin"
	tmp=$(mktemp -d)
	# apt-get download runs as the _apt user when it can: let it write.
	chmod 777 "$tmp"
	if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
		local sudo=()
		((EUID == 0)) || sudo=(sudo)
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
		(cd "$tmp" && apt-get download prometheus) || die "apt-get download prometheus failed"
	fi
	deb=$(echo "$tmp"/prometheus_*.deb)
	dpkg-deb -x "$deb" "$tmp/root" || die "cannot unpack $deb"
	mkdir -p "$BIN_DIR"
	install -m 755 "$tmp/root/usr/bin/promtool" "$BIN_DIR/promtool"
	rm -rf "$tmp"
	"$BIN_DIR/promtool" --version >/dev/null || die "promtool from $deb does not run"
	INSTALLED_SOMETHING=1
}

# install_helm builds the Helm CLI at HELM_VERSION into .dev/bin with the Go
# toolchain (make test lints and renders the chart with it); a stamp next
# to it records the version, since a go-installed helm cannot tell.
install_helm() {
	local stamp=$BIN_DIR/helm.version
	[[ -x $BIN_DIR/helm && -f $stamp && $(<"$stamp") == "$HELM_VERSION" ]] && return 0
	msg "building helm $HELM_VERSION into .dev/bin (a few minutes, once)"
	mkdir -p "$BIN_DIR"
	GOWORK=off GOBIN="$BIN_DIR" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
	"$BIN_DIR/helm" version >/dev/null || die "helm $HELM_VERSION does not run"
	printf '%s\n' "$HELM_VERSION" >"$stamp"
	INSTALLED_SOMETHING=1
}

INSTALLED_SOMETHING=0
check_go
check_node
if ((!WANT_SYSTEM)); then
	install_web_deps
	exit 0
fi
install_packages
if ((EUID == 0)); then
	getent passwd postgres >/dev/null ||
		die "the postgresql package is installed but there is no 'postgres' user to run the server as"
fi
if ((WANT_GEN)); then
	install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go \
		"$PROTOC_GEN_GO_VERSION" "protoc-gen-go $PROTOC_GEN_GO_VERSION"
	install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc \
		"$PROTOC_GEN_GO_GRPC_VERSION" "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"
fi
((!VIPS_HEADERS)) || install_vips_headers
((!WANT_WEB)) || install_web_deps
if ((WANT_TEST)); then
	install_weed
	install_azurite
	install_promtool
	install_helm
fi

if ((INSTALLED_SOMETHING)); then
	msg "done in $((SECONDS - started))s: $GO_VERSION, node $NODE_VERSION, ${#PACKAGES[@]} system packages"
else
	msg "ok: $GO_VERSION, node $NODE_VERSION, all ${#PACKAGES[@]} system packages present"
fi
