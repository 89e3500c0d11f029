# shellcheck shell=bash
# Start-up and tear-down of the processes a loopback benchmark needs — an
# edge in standalone mode, nginx, redis-server — and parsing of wrk's output.
# Source it (it defines functions only; it sources lib/proc.sh and
# lib/stack.sh), then:
#
#   bench_init pictor-bench-x          # work directory in $BENCH_WORK
#   trap bench_cleanup EXIT            # stops every process started here
#   trap 'exit 130' INT; trap 'exit 143' TERM
#   bench_build edge                   # services/edge/cmd/edge -> $BENCH_WORK/edge
#   bench_nginx origin 18087 1 /srv/www 'location /x/ { ... }'
#   bench_redis redis 18085
#   bench_standalone_config "$BENCH_WORK/p.yaml" http://127.0.0.1:18087
#   bench_edge edge 18081 "$BENCH_WORK/p.yaml" PICTOR_REDIS_ADDRS=127.0.0.1:18085
#   bench_stop edge
#
# Each process logs to $BENCH_WORK/NAME.log. PICTOR_BENCH_KEEP=1 keeps the
# work directory.

# shellcheck source=scripts/lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/proc.sh"
# shellcheck source=scripts/lib/stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/stack.sh"

BENCH_WORK=""
BENCH_NAMES=()
declare -A BENCH_PID=()

# bench_init PREFIX: creates the work directory.
bench_init() {
	BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	chmod 755 "$BENCH_WORK" # nginx's workers (www-data when started by root) read files here
}

# bench_need TOOL...: dies naming the first missing tool.
bench_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t missing (bash scripts/bootstrap.sh --bench installs it)"
	done
}

# bench_build CMD...: builds each services/edge/cmd/CMD into $BENCH_WORK/CMD.
bench_build() {
	local cmd
	for cmd in "$@"; do
		GOWORK=off go build -C "$(repo_root)/services/edge" -o "$BENCH_WORK/$cmd" "./cmd/$cmd"
	done
}

# bench_spawn NAME CMD...: starts CMD in the background, output to NAME.log.
bench_spawn() {
	local name=$1
	shift
	[[ -z ${BENCH_PID[$name]:-} ]] || die "bench_spawn: $name already started"
	"$@" >"$BENCH_WORK/$name.log" 2>&1 &
	BENCH_PID[$name]=$!
	BENCH_NAMES+=("$name")
}

# bench_pid NAME: prints the pid of a started process.
bench_pid() { printf '%s\n' "${BENCH_PID[$1]}"; }

# bench_stop NAME: stops one started process (SIGTERM, then SIGKILL).
bench_stop() {
	local pid=${BENCH_PID[$1]:-}
	[[ -n $pid ]] || return 0
	stop_pid "$pid" 10
	wait "$pid" 2>/dev/null || true
	unset "BENCH_PID[$1]"
}

# bench_cleanup: stops every process still running, newest first, and
# removes the work directory. Meant for an EXIT trap; keeps the exit status.
bench_cleanup() {
	local rc=$? i
	trap '' INT TERM
	for ((i = ${#BENCH_NAMES[@]} - 1; i >= 0; i--)); do
		bench_stop "${BENCH_NAMES[i]}"
	done
	if [[ -n $BENCH_WORK ]]; then
		if [[ -n ${PICTOR_BENCH_KEEP:-} ]]; then
			msg "kept $BENCH_WORK"
		else
			rm -rf "$BENCH_WORK"
		fi
	fi
	exit "$rc"
}

# bench_port_free PORT WHAT: dies when something already listens on PORT.
bench_port_free() {
	! port_in_use "$1" || die "port $1 ($2) is in use; is another benchmark running?"
}

# bench_nginx NAME PORT WORKERS ROOT [SERVER_DIRECTIVES]: an nginx serving ROOT
# as static files on 127.0.0.1:PORT (sendfile, no access log), with
# WORKERS worker processes ("auto" for one per core) and extra directives
# inside its server block. Waits until it accepts connections.
bench_nginx() {
	local name=$1 port=$2 workers=$3 root=$4 extra=${5:-} conf i
	bench_port_free "$port" "$name"
	conf="$BENCH_WORK/$name.conf"
	cat >"$conf" <<NGINX
worker_processes $workers;
pid $BENCH_WORK/$name.pid;
error_log $BENCH_WORK/$name-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  types { image/jpeg jpg jpeg; image/webp webp; image/avif avif; image/png png; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port;
    root $root;
    $extra
  }
}
NGINX
	bench_spawn "$name" nginx -c "$conf" -g 'daemon off;'
	for ((i = 0; i < 100; i++)); do
		port_in_use "$port" && return 0
		pid_alive "${BENCH_PID[$name]}" || break
		sleep 0.1
	done
	show_log_tail "$BENCH_WORK/$name.log"
	show_log_tail "$BENCH_WORK/$name-error.log"
	die "nginx $name did not start on port $port"
}

# bench_redis NAME PORT: a redis-server on 127.0.0.1:PORT started as make
# run starts the dev stack's (lib/stack.sh: no persistence, 256 MB,
# allkeys-lru).
bench_redis() {
	local name=$1 port=$2
	bench_need redis-server redis-cli
	bench_port_free "$port" "$name"
	mkdir -p "$BENCH_WORK/$name"
	bench_spawn "$name" redis-server --bind 127.0.0.1 --port "$port" --dir "$BENCH_WORK/$name" "${REDIS_CACHE_FLAGS[@]}"
	wait_redis "$port" "${BENCH_PID[$name]}" "$BENCH_WORK/$name.log" ||
		die "redis $name did not start on port $port"
}

# bench_standalone_config FILE ORIGIN_URL: an edge config (standalone mode)
# with one account "bench" whose web-folder origin is ORIGIN_URL; URLs are
# /bench/<transformations>/<path on the origin>.
bench_standalone_config() {
	cat >"$1" <<YAML
accounts:
  - id: bench
    status: active
    origins:
      - {id: o, type: WEB_FOLDER, name: o, baseUrl: "$2"}
    endpoints:
      - {id: default, urlPrefix: "", originIds: [o]}
YAML
}

# bench_edge NAME PORT CONFIG [VAR=VALUE...]: the edge built by
# bench_build edge in standalone mode on 127.0.0.1:PORT, configured as make
# run configures its edges (private origins allowed, the dev stack's memory
# budget, every other setting at its default) and then by the given
# environment, which wins. Waits for /readyz.
bench_edge() {
	local name=$1 port=$2 config=$3
	shift 3
	bench_port_free "$port" "$name"
	mkdir -p "$BENCH_WORK/$name-data"
	bench_spawn "$name" env PICTOR_EDGE_ADDR="127.0.0.1:$port" PICTOR_ALLOW_PRIVATE_ORIGINS=true \
		PICTOR_EDGE_MEMORY_LIMIT="$DEV_EDGE_MEMORY_LIMIT" PICTOR_EDGE_DATA_DIR="$BENCH_WORK/$name-data" "$@" \
		"$BENCH_WORK/edge" --config "$config"
	wait_http "http://127.0.0.1:$port/readyz" 30 "${BENCH_PID[$name]}" "$BENCH_WORK/$name.log" ||
		die "edge $name did not become ready"
}

# bench_metric PORT NAME [LABELS]: the value of a counter or gauge on the
# /metrics of the edge on 127.0.0.1:PORT, as a whole number (0 when absent).
# LABELS as Prometheus prints them, sorted: cache="HIT-L1",status_class="2xx".
bench_metric() {
	curl -fsS "http://127.0.0.1:$1/metrics" | awk -v n="$2" -v l="${3:-}" \
		'$1 == n || $1 == (n "{" l "}") {v = $2} END {printf "%.0f\n", v + 0}'
}

# bench_wrk_rps FILE: requests per second from wrk's output.
bench_wrk_rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }

# bench_wrk_ms FILE PERCENTILE: a latency percentile from wrk --latency
# output ("50%", "99%", …) in milliseconds.
bench_wrk_ms() {
	awk -v p="$2" '$1 == p {
		v = $2; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
		if (f < 0) { exit 1 }
		printf "%.2f\n", v * f; found = 1
	} END { exit !found }' "$1"
}

# bench_wrk_requests FILE: the number of requests wrk completed.
bench_wrk_requests() { awk '/ requests in / {print $1}' "$1"; }

# bench_wrk_errors FILE: wrk's lines on non-2xx/3xx answers and socket
# errors, joined by "; ", or nothing when there were none.
bench_wrk_errors() {
	awk '/Non-2xx or 3xx responses|Socket errors/ {sub(/^ +/, ""); printf "%s%s", sep, $0; sep = "; "}' "$1"
}

# bench_median: the median of the numbers on stdin, one a line (the lower
# middle one for an even count).
bench_median() { sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'; }
