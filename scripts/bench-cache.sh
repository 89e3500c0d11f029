#!/usr/bin/env bash
# Cache benchmarks of the edge on loopback (docs/benchmarks.md, "Cache"):
#
# hits   The edge answering one ~28 KB f-auto variant from L1 next to nginx
#        serving the same bytes as a static file, both asked with a
#        browser's headers (Accept with AVIF and WebP, Chrome's User-Agent,
#        a Cookie of a few hundred bytes). wrk at 16 and at 64 connections;
#        runs alternate nginx, edge, nginx, edge, … (BENCH_ROUNDS of each,
#        at least 3); medians of each side and their ratios. Targets, at
#        both concurrencies: edge req/s >= 0.9x nginx's, edge p99 <= 2x
#        nginx's.
# mixed  95 % repeats of 1,000 warmed variants (Zipf, s = 1.0), 5 % variants
#        no one asked for yet (each wrk thread with its own seed and its own
#        key range, so none is asked for twice). X-Cache answers counted:
#        the observed miss fraction and hit ratio per tier.
# zipf   A request log drawn by Zipf's law (s = 1.0) from a seed over
#        100,000 variants (100 widths each of 1,000 originals) replayed
#        against an edge with a 256 MiB L1 and Redis: a warm-up replay (not
#        counted), then a measured one continuing the log: hit ratio per
#        tier, req/s, p99.
#
# Every edge runs with the settings make run gives its edges (the dev
# stack's memory budget, Redis as L2, every other setting at its default);
# the Zipf edge's L1 is set to 256 MiB on top. Each part starts its own
# edge and Redis.
#
# Usage: scripts/bench-cache.sh [hits|mixed|zipf ...] [SECONDS]
#   no part named: all three. SECONDS: length of each hit run (default 8).
# Environment: BENCH_ROUNDS (3), BENCH_THREADS (wrk threads, 2),
#   BENCH_HIT_CONNECTIONS ("16 64"), BENCH_CONNECTIONS (mixed and Zipf, 64),
#   BENCH_MIXED_SECONDS (10), BENCH_MIXED_HOT (warmed variants, 1000),
#   BENCH_ZIPF_WARMUP (seconds of warm-up replay, 60; 0 skips it),
#   BENCH_ZIPF_SECONDS (30), BENCH_ZIPF_REQUESTS (length of the log,
#   1000000), BENCH_SEED (1: the Zipf log and the wrk threads' seeds derive
#   from it), PICTOR_BENCH_KEEP=1 keeps the work directory and logs.
# Exits 1 when a hit target is missed (after every part asked for ran).
set -euo pipefail

LOG_TAG="[bench-cache]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/benchstack.sh
source "$SCRIPTS/lib/benchstack.sh"
ROOT=$(repo_root)
cd "$ROOT"

PARTS=() DUR=${BENCH_HIT_SECONDS:-8}
for arg in "$@"; do
	case $arg in
	hits | mixed | zipf) PARTS+=("$arg") ;;
	all) PARTS+=(hits mixed zipf) ;;
	*[!0-9]* | '') die "usage: $0 [hits|mixed|zipf ...] [SECONDS]" ;;
	*) DUR=$arg ;;
	esac
done
((${#PARTS[@]})) || PARTS=(hits mixed zipf)
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
read -r -a HIT_CONNS <<<"${BENCH_HIT_CONNECTIONS:-16 64}"
CONNS=${BENCH_CONNECTIONS:-64}
MIXED_DUR=${BENCH_MIXED_SECONDS:-10}
MIXED_HOT=${BENCH_MIXED_HOT:-1000}
ZIPF_WARMUP=${BENCH_ZIPF_WARMUP:-60}
ZIPF_DUR=${BENCH_ZIPF_SECONDS:-30}
ZIPF_REQUESTS=${BENCH_ZIPF_REQUESTS:-1000000}
export BENCH_SEED=${BENCH_SEED:-1}
export BENCH_THREADS=$THREADS BENCH_LUA_DIR="$SCRIPTS/bench-cache"
TARGET_RPS=0.9 TARGET_P99=2.0
((ROUNDS >= 3)) || die "BENCH_ROUNDS must be at least 3 (medians of alternating runs)"
((DUR >= 1)) || die "a hit run must last at least 1 second"

PHOTOS=/usr/share/backgrounds/mate
SRC="$ROOT/.dev/bench-cache"
ORIGIN_PORT=18079 EDGE_PORT=18081 NGINX_PORT=18083 REDIS_PORT=18085

bench_need wrk nginx vips vipsheader curl redis-server redis-cli
[[ -d $PHOTOS/nature ]] || die "$PHOTOS missing (bash scripts/bootstrap.sh installs mate-backgrounds)"
bench_init pictor-bench-cache
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
W=$BENCH_WORK

# A browser's request for an image: Chrome's User-Agent, an Accept that
# takes AVIF and WebP, and a shop's cookies (analytics, consent, cart,
# session): a Cookie of about 400 bytes, some 700 bytes of headers in all.
COOKIE="_ga=GA1.1.1843960512.1733097600; _ga_8XK2M4PQ1Z=GS1.1.1733097600.4.1.1733101200.0.0.0; \
_gid=GA1.2.702935331.1733097600; _fbp=fb.1.1733097600123.1843960512; \
OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+02+2026&version=202409.1.0&groups=C0001%3A1%2CC0002%3A1; \
cart_id=c7d1e0f2-9a4b-4c3d-8e5f-6a7b8c9d0e1f; currency=EUR; \
session=3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
BROWSER=(
	-H "Accept: image/avif,image/webp,*/*"
	-H "Accept-Encoding: gzip, deflate, br, zstd"
	-H "Accept-Language: en-GB,en;q=0.9"
	-H "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	-H "Referer: https://shop.example.com/garden/outdoor-furniture"
	-H "Cookie: $COOKIE"
)

# run_wrk CONNECTIONS SECONDS ARGS...: a wrk run; a request may take 10 s
# (a miss behind many others does) before wrk counts it as a timeout.
run_wrk() { wrk -t"$THREADS" -c"$1" -d"$2s" --timeout 10s --latency "${@:3}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# An edge as make run starts one, with its own Redis: start_edge NAME PORT [VAR=VALUE...]
start_edge() {
	local name=$1 port=$2
	shift 2
	bench_redis "redis-$name" "$REDIS_PORT"
	bench_edge "edge-$name" "$port" "$W/pictor.yaml" PICTOR_REDIS_ADDRS="127.0.0.1:$REDIS_PORT" "$@"
}
stop_edge() {
	bench_stop "edge-$1"
	bench_stop "redis-$1"
}

# tiers FILE: the X-Cache counts of a wrk run with common.lua, as counts
# and shares of all answers.
tiers() {
	awk '$1 == "XCACHE" {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); n[kv[1]] = kv[2]; key[i] = kv[1] }
		for (i = 2; i < NF; i++) if (key[i] != "none" || n["none"] > 0)
			printf "%s %d (%.1f%%)  ", key[i], n[key[i]], n["total"] ? 100 * n[key[i]] / n["total"] : 0
		printf "of %d\n", n["total"]
	}' "$1"
}
# field FILE LINE KEY: a KEY=value of wrk's SEEDS/XCACHE/STATUS/COUNT lines (0 if absent).
field() {
	awk -v l="$2" -v k="$3" '$1 == l { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print v + 0 }' "$1"
}
line() { awk -v l="$2" '$1 == l { $1 = ""; sub(/^ /, ""); print }' "$1"; }
# report NAME FILE: req/s, latency, X-Cache tiers, statuses and errors of a run.
report() {
	local errs
	printf '%s: %.0f req/s, p50 %s ms, p99 %s ms\n' "$1" "$(bench_wrk_rps "$2")" \
		"$(bench_wrk_ms "$2" 50%)" "$(bench_wrk_ms "$2" 99%)"
	printf '  X-Cache: %s\n' "$(tiers "$2")"
	errs=$(bench_wrk_errors "$2")
	printf '  status: %s%s   (wrk thread seeds: %s)\n' "$(line "$2" STATUS)" "${errs:+; $errs}" "$(line "$2" SEEDS)"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); parts: ${PARTS[*]}; seed $BENCH_SEED"
echo "== building"
bench_build edge

# The Zipf replay's originals: each JPEG photo of mate-backgrounds' nature
# set (and two more) at 1, 2 and 3 megapixels (JPEG q-85), made once.
make_sources() {
	local stamp="$SRC/.made-v1" photo mp n=0 w h scale out
	[[ -f $stamp ]] && return 0
	echo "== making the Zipf replay's originals (once) in $SRC"
	rm -rf "$SRC/src"
	mkdir -p "$SRC/src"
	for photo in "$PHOTOS"/nature/*.jpg "$PHOTOS/abstract/Elephants.jpg" "$PHOTOS/desktop/GreenTraditional.jpg"; do
		w=$(vipsheader -f width "$photo") h=$(vipsheader -f height "$photo")
		for mp in 1 2 3; do
			scale=$(awk -v w="$w" -v h="$h" -v mp="$mp" 'BEGIN { printf "%.6f", sqrt(mp * 1e6 / (w * h)) }')
			printf -v out '%s/src/%02d.jpg' "$SRC" "$n"
			vips resize "$photo" "${out}[Q=85,strip]" "$scale"
			n=$((n + 1))
		done
	done
	touch "$stamp"
}
want zipf && make_sources

# One origin for every part: mate-backgrounds as they are, and the Zipf
# replay's originals: /o/<n>-<k>.jpg is source k, so 1,000 paths are 1,000
# distinct originals to the edge (its cache keys are the paths).
# shellcheck disable=SC2016 # nginx's $1, not the shell's
bench_nginx origin "$ORIGIN_PORT" 1 "$PHOTOS" \
	'location ~ ^/o/[0-9]+-([0-9]+)\.jpg$ { root '"$SRC"'; try_files /src/$1.jpg =404; }'
bench_standalone_config "$W/pictor.yaml" "http://127.0.0.1:$ORIGIN_PORT"

# ---------------------------------------------------------------- hits
HIT_VERDICTS=() HIT_FAILED=0
part_hits() {
	local path="/bench/tr:w-1200,f-auto/nature/Garden.jpg" ctype size ngx_path hdr_bytes c r side i
	local before after asked=0 errs verdict
	start_edge hits "$EDGE_PORT"
	for i in 1 2 3 4 5; do
		curl -fsS "${BROWSER[@]}" -D "$W/hit.headers" -o "$W/hit.body" "http://127.0.0.1:$EDGE_PORT$path" ||
			die "the edge did not serve $path"
		grep -qi '^X-Cache: HIT-L1' "$W/hit.headers" && break
		sleep 0.2
	done
	grep -qi '^X-Cache: HIT-L1' "$W/hit.headers" ||
		die "$path is not an L1 hit: $(tr -d '\r' <"$W/hit.headers" | paste -sd' ')"
	ctype=$(awk -F': *' 'tolower($1) == "content-type" {print $2}' "$W/hit.headers" | tr -d '\r')
	size=$(stat -c %s "$W/hit.body")
	mkdir -p "$W/www"
	ngx_path="/variant.${ctype#image/}"
	cp "$W/hit.body" "$W/www$ngx_path"
	bench_nginx static "$NGINX_PORT" auto "$W/www"
	curl -fsS "${BROWSER[@]}" -o "$W/nginx.body" "http://127.0.0.1:$NGINX_PORT$ngx_path" ||
		die "nginx did not serve $ngx_path"
	cmp -s "$W/hit.body" "$W/nginx.body" || die "nginx does not serve the edge's bytes"
	hdr_bytes=$(printf '%s\n' "${BROWSER[@]}" | grep -v '^-H$' | awk '{n += length($0) + 2} END {print n}')
	echo "== hits: $path -> $ctype, $size bytes, from L1"
	echo "   both asked with a browser's headers ($hdr_bytes bytes, Cookie ${#COOKIE}); nginx serves the same bytes as $ngx_path"
	echo "   ($(nginx -v 2>&1 | sed 's/^nginx version: //'), worker_processes auto, sendfile); runs of ${DUR}s alternate nginx, edge, ...;" \
		"$ROUNDS of each; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $THREADS threads"
	((size >= 20000 && size <= 40000)) || msg "warning: the variant is $size bytes, not about 28 KB"

	before=$(bench_metric "$EDGE_PORT" pictor_edge_requests_total 'cache="HIT-L1",status_class="2xx"')
	for c in "${HIT_CONNS[@]}"; do
		local -a e_rps=() e_p99=() n_rps=() n_p99=()
		for ((r = 1; r <= ROUNDS; r++)); do
			for side in nginx edge; do
				if [[ $side == edge ]]; then
					run_wrk "$c" "$DUR" "${BROWSER[@]}" "http://127.0.0.1:$EDGE_PORT$path" >"$W/edge.wrk"
					asked=$((asked + $(bench_wrk_requests "$W/edge.wrk")))
				else
					run_wrk "$c" "$DUR" "${BROWSER[@]}" "http://127.0.0.1:$NGINX_PORT$ngx_path" >"$W/nginx.wrk"
				fi
				errs=$(bench_wrk_errors "$W/$side.wrk")
				if [[ -n $errs ]]; then
					HIT_VERDICTS+=("FAIL c$c round $r: $side had errors: $errs")
					HIT_FAILED=1
				fi
			done
			e_rps+=("$(bench_wrk_rps "$W/edge.wrk")") e_p99+=("$(bench_wrk_ms "$W/edge.wrk" 99%)")
			n_rps+=("$(bench_wrk_rps "$W/nginx.wrk")") n_p99+=("$(bench_wrk_ms "$W/nginx.wrk" 99%)")
			printf 'c%-3d round %d: nginx %8.0f req/s p99 %6.2f ms | edge %8.0f req/s p99 %6.2f ms | edge/nginx req/s %s p99 %s | load %s\n' \
				"$c" "$r" "${n_rps[-1]}" "${n_p99[-1]}" "${e_rps[-1]}" "${e_p99[-1]}" \
				"$(ratio "${e_rps[-1]}" "${n_rps[-1]}")" "$(ratio "${e_p99[-1]}" "${n_p99[-1]}")" "$(loadavg)"
		done
		local me_rps mn_rps me_p99 mn_p99 q_rps q_p99
		me_rps=$(printf '%s\n' "${e_rps[@]}" | bench_median) mn_rps=$(printf '%s\n' "${n_rps[@]}" | bench_median)
		me_p99=$(printf '%s\n' "${e_p99[@]}" | bench_median) mn_p99=$(printf '%s\n' "${n_p99[@]}" | bench_median)
		q_rps=$(ratio "$me_rps" "$mn_rps") q_p99=$(ratio "$me_p99" "$mn_p99")
		printf 'c%-3d median:  nginx %8.0f req/s p99 %6.2f ms | edge %8.0f req/s p99 %6.2f ms | edge/nginx req/s %s p99 %s\n' \
			"$c" "$mn_rps" "$mn_p99" "$me_rps" "$me_p99" "$q_rps" "$q_p99"
		verdict=PASS
		awk -v r="$q_rps" -v t="$TARGET_RPS" 'BEGIN { exit !(r >= t) }' || verdict=FAIL HIT_FAILED=1
		HIT_VERDICTS+=("$verdict c$c req/s: edge ${q_rps}x nginx (target >= ${TARGET_RPS}x)")
		verdict=PASS
		awk -v r="$q_p99" -v t="$TARGET_P99" 'BEGIN { exit !(r <= t) }' || verdict=FAIL HIT_FAILED=1
		HIT_VERDICTS+=("$verdict c$c p99:   edge ${q_p99}x nginx (target <= ${TARGET_P99}x)")
	done
	after=$(bench_metric "$EDGE_PORT" pictor_edge_requests_total 'cache="HIT-L1",status_class="2xx"')
	echo "edge: $((after - before)) HIT-L1 200s on /metrics during the runs, for $asked requests wrk completed"
	printf '%s\n' "${HIT_VERDICTS[@]}"
	bench_stop static
	stop_edge hits
}

# ---------------------------------------------------------------- mixed
part_mixed() {
	local new_percent=5 start w
	echo "== mixed: $((100 - new_percent))% repeats of $MIXED_HOT warmed variants (Zipf s=1.0), $new_percent% new variants;" \
		"$CONNS connections, ${MIXED_DUR}s, $THREADS wrk threads"
	start_edge mixed "$EDGE_PORT"
	for ((w = 100; w < 100 + MIXED_HOT; w++)); do echo "/bench/tr:w-$w/nature/Garden.jpg"; done >"$W/hot.txt"
	start=$SECONDS
	xargs -P 4 -I{} curl -fsS -o /dev/null "http://127.0.0.1:$EDGE_PORT{}" <"$W/hot.txt"
	echo "warmed $MIXED_HOT variants in $((SECONDS - start))s"
	HOT_FILE="$W/hot.txt" NEW_FRACTION=$(awk -v p="$new_percent" 'BEGIN { print p / 100 }') \
		run_wrk "$CONNS" "$MIXED_DUR" -s "$SCRIPTS/bench-cache/mixed.lua" "http://127.0.0.1:$EDGE_PORT" >"$W/mixed.wrk"
	report mixed "$W/mixed.wrk"
	local new hot total miss exh
	new=$(field "$W/mixed.wrk" COUNT new) hot=$(field "$W/mixed.wrk" COUNT hot) exh=$(field "$W/mixed.wrk" COUNT exhausted)
	total=$(field "$W/mixed.wrk" XCACHE total) miss=$(field "$W/mixed.wrk" XCACHE MISS)
	printf '  sent %d requests: %d new variants (%.1f%%), %d repeats; answered %d: miss fraction %.1f%% observed;' \
		$((new + hot + exh)) "$new" "$(awk -v a="$new" -v b=$((new + hot + exh)) 'BEGIN { print b ? 100 * a / b : 0 }')" \
		$((hot + exh)) "$total" "$(awk -v a="$miss" -v b="$total" 'BEGIN { print b ? 100 * a / b : 0 }')"
	printf ' %d still in flight when wrk stopped (slow ones: mostly misses)\n' $((new + hot + exh - total))
	((exh == 0)) || msg "warning: $exh new requests found their wrk thread's key range used up and repeated a warmed variant"
	stop_edge mixed
}

# ---------------------------------------------------------------- Zipf
part_zipf() {
	local nsrc
	nsrc=$(find "$SRC/src" -name '*.jpg' | wc -l)
	echo "== Zipf replay: s=1.0 over 100,000 variants (1,000 originals x 100 widths), L1 256 MiB + Redis 256 MB allkeys-lru;" \
		"$CONNS connections, $THREADS wrk threads"
	# Every variant once, most popular first. Ranks are a shuffle seeded by
	# BENCH_SEED, so popular variants are spread over originals and widths;
	# original i is source i mod $nsrc.
	awk -v nsrc="$nsrc" -v seed="$BENCH_SEED" 'BEGIN {
		srand(seed)
		for (i = 0; i < 1000; i++) for (k = 0; k < 100; k++) p[n++] = sprintf("/bench/tr:w-%d/o/%04d-%02d.jpg", 100 + 10 * k, i, i % nsrc)
		for (i = n - 1; i > 0; i--) { j = int(rand() * (i + 1)); t = p[i]; p[i] = p[j]; p[j] = t }
		for (i = 0; i < n; i++) print p[i]
	}' >"$W/variants.txt"
	# The request log: ZIPF_REQUESTS popularity ranks drawn by Zipf's law
	# (rank k with weight 1/k) from BENCH_SEED + 1.
	awk -v n=100000 -v m="$ZIPF_REQUESTS" -v seed="$((BENCH_SEED + 1))" 'BEGIN {
		srand(seed)
		for (k = 1; k <= n; k++) { t += 1 / k; c[k] = t }
		for (k = 1; k <= n; k++) c[k] /= t
		for (i = 0; i < m; i++) {
			u = rand(); lo = 1; hi = n
			while (lo < hi) { mid = int((lo + hi) / 2); if (c[mid] < u) lo = mid + 1; else hi = mid }
			print lo
		}
	}' >"$W/zipf.log"
	printf 'request log: %d requests over %d distinct variants (seed %d, sha256 %.12s, %s)\n' "$ZIPF_REQUESTS" \
		"$(sort -un "$W/zipf.log" | wc -l)" "$BENCH_SEED" "$(cat "$W/variants.txt" "$W/zipf.log" | sha256sum)" \
		"$(awk -W version 2>/dev/null | head -1 | cut -d' ' -f1-2)"

	start_edge zipf "$EDGE_PORT" PICTOR_L1_CACHE_BYTES=256MiB
	cache_state() {
		local l1 ev used rev keys
		l1=$(bench_metric "$EDGE_PORT" pictor_edge_l1_bytes)
		ev=$(bench_metric "$EDGE_PORT" pictor_edge_l1_evictions_total)
		used=$(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r')
		rev=$(redis-cli -p "$REDIS_PORT" info stats | awk -F: '/^evicted_keys:/ {print $2}' | tr -d '\r')
		keys=$(redis-cli -p "$REDIS_PORT" dbsize | tr -d '\r')
		printf 'L1 %d MiB held, %d evictions; Redis %d MiB used, %d keys, %d evicted' \
			$((l1 >> 20)) "$ev" $((used >> 20)) "$keys" "$rev"
	}
	export VARIANTS_FILE="$W/variants.txt" ZIPF_LOG="$W/zipf.log"
	local from=""
	if ((ZIPF_WARMUP > 0)); then
		ZIPF_POS_OUT="$W/zipf.pos" \
			run_wrk "$CONNS" "$ZIPF_WARMUP" -s "$SCRIPTS/bench-cache/zipf.lua" "http://127.0.0.1:$EDGE_PORT" >"$W/zipf-warm.wrk"
		from="$W/zipf.pos"
		report "warm-up (${ZIPF_WARMUP}s from the log's start, not counted)" "$W/zipf-warm.wrk"
		printf '  after the warm-up: %s\n' "$(cache_state)"
	fi
	ZIPF_POS_IN=$from run_wrk "$CONNS" "$ZIPF_DUR" -s "$SCRIPTS/bench-cache/zipf.lua" "http://127.0.0.1:$EDGE_PORT" >"$W/zipf.wrk"
	local how="cold, from the log's start"
	[[ -z $from ]] || how="continuing the log after the warm-up"
	report "Zipf (${ZIPF_DUR}s, $how)" "$W/zipf.wrk"
	printf '  after the run: %s\n' "$(cache_state)"
	local wrapped
	wrapped=$(field "$W/zipf.wrk" COUNT wrapped)
	[[ -z $from ]] || wrapped=$((wrapped + $(field "$W/zipf-warm.wrk" COUNT wrapped)))
	((wrapped == 0)) || msg "warning: the request log ran out $wrapped times and was replayed again; raise BENCH_ZIPF_REQUESTS"
	stop_edge zipf
}

for part in "${PARTS[@]}"; do "part_$part"; done

if want hits; then
	if ((HIT_FAILED)); then
		echo "bench-cache: FAIL: a hit target was missed"
		exit 1
	fi
	echo "bench-cache: PASS: every hit target met"
fi
