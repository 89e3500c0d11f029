# shellcheck shell=bash
# Helpers to run a private Postgres cluster as a local process (dev stack and
# test runner). Postgres refuses to run as root, so when the scripts run as
# root the cluster belongs to the `postgres` user that Debian's package
# creates; a normal user owns and runs the cluster directly.
# Requires scripts/lib/proc.sh to be sourced first.

# pg_bin_dir prints the directory holding initdb/pg_ctl/postgres
# (PICTOR_PG_BIN overrides; else the newest /usr/lib/postgresql/*/bin).
pg_bin_dir() {
	if [[ -n ${PICTOR_PG_BIN:-} ]]; then
		[[ -x $PICTOR_PG_BIN/pg_ctl ]] || die "PICTOR_PG_BIN=$PICTOR_PG_BIN has no pg_ctl"
		echo "$PICTOR_PG_BIN"
		return
	fi
	local d best
	# The glob sorts lexically; prefer the highest major version.
	best=$(for d in /usr/lib/postgresql/*/bin; do if [[ -x $d/pg_ctl ]]; then echo "$d"; fi; done | sort -V | tail -n 1)
	[[ -n $best ]] || die "no Postgres server found under /usr/lib/postgresql (run scripts/bootstrap.sh)"
	echo "$best"
}

# pg_os_user prints the OS user that owns and runs the clusters.
pg_os_user() {
	if ((EUID == 0)); then
		getent passwd postgres >/dev/null ||
			die "running as root, but there is no 'postgres' user to run Postgres as (install the postgresql package: scripts/bootstrap.sh)"
		echo postgres
	else
		id -un
	fi
}

# pg_run CMD...: runs CMD as the cluster owner, from / (so a working
# directory the owner cannot read does not break initdb or pg_ctl).
pg_run() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# pg_own_dir DIR: creates DIR (mode 0700) owned by the cluster owner and
# checks that the owner can reach it.
pg_own_dir() {
	local dir=$1
	mkdir -p "$dir"
	if ((EUID == 0)); then
		chown postgres: "$dir"
	fi
	chmod 700 "$dir"
	pg_run test -w "$dir" -a -x "$dir" ||
		die "the '$(pg_os_user)' user cannot write $dir; a parent directory is not searchable by it (chmod o+x the parents or move the checkout)"
}

# pg_init DATADIR LOG: creates a cluster with trust auth (local use only)
# unless DATADIR already holds one.
pg_init() {
	local data=$1 log=$2 bin
	bin=$(pg_bin_dir)
	[[ -f $data/PG_VERSION ]] && return 0
	pg_own_dir "$data"
	msg "initialising Postgres cluster in $data"
	if ! pg_run "$bin/initdb" -D "$data" -U postgres --auth=trust --no-locale -E UTF8 \
		</dev/null >>"$log" 2>&1; then
		show_log_tail "$log"
		die "initdb failed (log: $log)"
	fi
	# shellcheck disable=SC2016 # $1 expands in the inner shell
	pg_run sh -c 'printf "\n# Pictor scripts: settings for this run\ninclude_if_exists = '"'"'pictor.conf'"'"'\n" >>"$1/postgresql.conf"' sh "$data"
}

# pg_configure DATADIR PORT SOCKDIR [NAME=VALUE...]: writes pictor.conf
# (included by postgresql.conf) so the port and socket can change per run.
pg_configure() {
	local data=$1 port=$2 sock=$3 kv
	shift 3
	# shellcheck disable=SC2016 # $1 expands in the inner shell
	{
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$sock'"
		for kv in "$@"; do
			echo "${kv%%=*} = '${kv#*=}'"
		done
	} | pg_run sh -c 'cat >"$1/pictor.conf"' sh "$data"
}

# pg_is_running DATADIR: true when the cluster's postmaster is alive.
pg_is_running() {
	local data=$1 pid comm
	[[ -f $data/postmaster.pid ]] || return 1
	pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || return 1
	pid_alive "$pid" || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[[ $comm == postgres* || $comm == postmaster* ]]
}

# pg_start DATADIR LOG: starts the cluster and waits until it accepts
# connections. The server's output is appended to LOG.
pg_start() {
	local data=$1 log=$2 bin
	bin=$(pg_bin_dir)
	if ! pg_run "$bin/pg_ctl" -D "$data" -w -t 60 start </dev/null >>"$log" 2>&1; then
		show_log_tail "$log"
		die "Postgres did not start (log: $log)"
	fi
}

# pg_stop DATADIR: fast shutdown; immediate, then SIGKILL, if that hangs.
pg_stop() {
	local data=$1 bin pid
	pg_is_running "$data" || return 0
	bin=$(pg_bin_dir)
	pid=$(head -n 1 "$data/postmaster.pid")
	if pg_run "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1; then
		return 0
	fi
	msg "Postgres did not stop in 30s; stopping it immediately"
	pg_run "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop </dev/null >/dev/null 2>&1 || true
	stop_pid "$pid" 2
}

# pg_clear_leftovers DATADIR [SOCKDIR]: stops a cluster left running by an
# earlier run, kills backends orphaned by a killed postmaster (their working
# directory is DATADIR) and removes a stale postmaster.pid and socket lock
# files. (A killed postmaster can stay a zombie for a while; Postgres would
# take its pid for a live server, pid_alive does not.)
pg_clear_leftovers() {
	local data=$1 sock=${2:-} pid i lock
	[[ -d $data ]] || return 0
	if pg_is_running "$data"; then
		msg "stopping Postgres left running from an earlier run"
		pg_stop "$data"
	fi
	for pid in $(pids_rooted_at "$(cd "$data" && pwd -P)"); do
		msg "killing leftover Postgres process $pid"
		kill -KILL "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < 50; i++)); do
		[[ -z $(pids_rooted_at "$(cd "$data" && pwd -P)") ]] && break
		sleep 0.1
	done
	if [[ -f $data/postmaster.pid ]] && ! pg_is_running "$data"; then
		msg "removing stale $data/postmaster.pid"
		rm -f "$data/postmaster.pid"
	fi
	[[ -n $sock && -d $sock ]] || return 0
	for lock in "$sock"/.s.PGSQL.*.lock; do
		[[ -f $lock ]] || continue
		pid=$(head -n 1 "$lock" 2>/dev/null) || pid=
		pid_alive "$pid" && continue
		msg "removing stale socket lock $lock"
		rm -f "$lock" "${lock%.lock}"
	done
}

# pg_socket_dir PREFERRED: prints a socket directory; PREFERRED unless its
# path is too long for a Unix socket, then one under /tmp.
pg_socket_dir() {
	local want=$1
	if ((${#want} <= 80)); then
		echo "$want"
	else
		echo "/tmp/pictor-pg-$(id -u)-$(printf '%s' "$want" | cksum | cut -d' ' -f1)"
	fi
}
