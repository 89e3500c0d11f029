# shellcheck shell=bash
# How Pictor's own scripts run its services on one machine: the dev stack
# (scripts/dev.sh, make run) and the benchmarks (lib/benchstack.sh) start
# Redis and the edge the same way, from here. Source it after lib/proc.sh;
# it defines settings and functions only.

# DEV_EDGE_MEMORY_LIMIT is the memory budget make run gives each edge
# (PICTOR_EDGE_MEMORY_LIMIT); benchmarks that measure "the edge as shipped"
# use it too. L1 gets a quarter of it unless PICTOR_L1_CACHE_BYTES says
# otherwise.
# shellcheck disable=SC2034 # used by the scripts that source this file
DEV_EDGE_MEMORY_LIMIT=768MiB

# REDIS_CACHE_FLAGS: redis-server as the edges' L2 cache, in the foreground,
# logging to stdout: no persistence, 256 MB bounded by allkeys-lru.
# Appended after --bind, --port and --dir.
# shellcheck disable=SC2034
REDIS_CACHE_FLAGS=(--save '' --appendonly no --maxmemory 256mb --maxmemory-policy allkeys-lru
	--daemonize no --logfile '')

# wait_redis PORT PID LOG: waits up to 10 s until the Redis on
# 127.0.0.1:PORT answers PING; fails early when PID exits and prints the
# tail of LOG on failure.
wait_redis() {
	local port=$1 pid=$2 log=$3 i
	for ((i = 0; i < 100; i++)); do
		[[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]] && return 0
		pid_alive "$pid" || break
		sleep 0.1
	done
	show_log_tail "$log"
	return 1
}
