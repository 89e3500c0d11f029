# shellcheck shell=bash
# Process, port and HTTP helpers shared by the dev stack and the test runner.
# Source it; it defines functions only.

# msg prints a progress line on stderr, prefixed with the calling script's tag.
# It never fails: a closed stderr (say `make run | tee` after Ctrl-C killed
# tee) must not abort a cleanup half-way.
msg() { { printf '%s %s\n' "${LOG_TAG:-[pictor]}" "$*" >&3; } 3>&2 2>/dev/null || true; }

# die prints an error and exits 1.
die() {
	printf '%s error: %s\n' "${LOG_TAG:-[pictor]}" "$*" >&2
	exit 1
}

# repo_root prints the repository root (the directory holding go.work).
repo_root() { (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P); }

# port_in_use PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PID: true when PID names a running (non-zombie) process.
# Builtins only: no child process that a terminal's Ctrl-C could kill
# half-way and turn into a wrong answer.
pid_alive() {
	local pid=$1 stat state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	{ read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
	# Fields: pid (comm) state …; comm may itself hold spaces and parentheses.
	state=${stat##*) }
	state=${state%% *}
	[[ -n $state && $state != Z ]]
}

# stop_pid PID [GRACE_SECONDS]: SIGTERM, wait up to GRACE (default 10 s), then SIGKILL.
stop_pid() {
	local pid=$1 grace=${2:-10} i
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < grace * 10; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	msg "pid $pid did not stop within ${grace}s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
}

# pids_rooted_at DIR...: prints the pids of processes whose executable lives
# under one of the DIRs or whose working directory is one of them (or below).
# Used to find what an earlier run left behind even without pid files.
pids_rooted_at() {
	local p pid exe cwd d
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		exe=$(readlink "$p/exe" 2>/dev/null) || exe=
		cwd=$(readlink "$p/cwd" 2>/dev/null) || cwd=
		for d in "$@"; do
			if [[ -n $exe && $exe == "$d"/* ]] || [[ -n $cwd && ($cwd == "$d" || $cwd == "$d"/*) ]]; then
				echo "$pid"
				break
			fi
		done
	done
}

# wait_http URL TIMEOUT_SECONDS [PID] [LOG]: waits until URL answers 2xx.
# Fails early when PID (if given) exits; prints the tail of LOG on failure.
wait_http() {
	local url=$1 timeout=$2 pid=${3:-} log=${4:-} deadline
	deadline=$((SECONDS + timeout))
	while ((SECONDS < deadline)); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
			return 0
		fi
		if [[ -n $pid ]] && ! pid_alive "$pid"; then
			msg "process $pid exited while waiting for $url"
			[[ -n $log ]] && show_log_tail "$log"
			return 1
		fi
		sleep 0.2
	done
	msg "timed out after ${timeout}s waiting for $url"
	[[ -n $log ]] && show_log_tail "$log"
	return 1
}

# show_log_tail FILE [LINES]: prints the end of a log file on stderr.
show_log_tail() {
	local file=$1 lines=${2:-40}
	[[ -f $file ]] || return 0
	printf -- '----- last %d lines of %s -----\n' "$lines" "$file" >&2
	tail -n "$lines" "$file" >&2 || true
	printf -- '----- end of %s -----\n' "$file" >&2
}

# random_hex N: N random bytes as lowercase hex.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
