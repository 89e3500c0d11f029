#!/usr/bin/env bash
# Pictor's whole test run (make test, .ci/run):
#   1. bootstrap (installs what is missing)
#   2. generated protobuf code matches the .proto files (check-gen)
#   3. gofmt
#   4. one shared Postgres cluster for the run (PICTOR_TEST_PG_URL), then
#      go vet + go test for every module with GOWORK=off, so each module
#      builds and tests on its own; then the edge's transform package under
#      AddressSanitizer (TestStressASan)
#   5. the dashboard's unit tests (Vitest, web/)
#   6. build the binaries (dashboard included), then the end-to-end tests
#      (scripts/e2e) against them, then the browser tests: Chromium driven by
#      playwright-core through the dashboard of a real stack
#      (scripts/e2e TestDashboardInBrowser; screenshots in artifacts/dashboard)
# Every step runs even if an earlier one failed (except when bootstrap or
# Postgres cannot start); a summary closes the run; the exit status is 1
# when any step failed.
#
# Environment: PICTOR_TEST_TIMEOUT (go test -timeout per module, default
# 10m), PICTOR_TEST_KEEP=1 keeps the temporary directory (logs, Postgres).
set -euo pipefail

LOG_TAG="[test]"
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/proc.sh
source "$SCRIPTS/lib/proc.sh"
# shellcheck source=scripts/lib/postgres.sh
source "$SCRIPTS/lib/postgres.sh"
ROOT=$(repo_root)
cd "$ROOT"

TIMEOUT=${PICTOR_TEST_TIMEOUT:-10m}
# Modules in dependency order; scripts/e2e runs last, after the build.
MODULES=(proto migrations services/internal web services/controlplane services/edge deploy)
# Modules whose tests run under the race detector (instead of a plain run,
# to keep make test within its time): the services, whose edge relies on
# detached goroutines, atomic swaps and copies of fasthttp buffers.
# proto has no tests, but building it under -race compiles the shared
# dependencies (gRPC, protobuf) once, in the variant the services' race runs
# reuse; the race modules are vetted with -race for the same reason.
RACE_MODULES=" proto services/internal services/controlplane services/edge "
E2E_MODULE=scripts/e2e
BROWSER_TEST='^TestDashboardInBrowser$'
ASAN_TEST='^TestStressASan$'

RUN_START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pictor-test.XXXXXX")
chmod 755 "$WORK" # the Postgres owner must reach its directory below
PG_DATA="$WORK/pg/data"
PG_LOG="$WORK/postgres.log"
PG_UP=0

STEP_NAMES=()
STEP_RESULTS=()
STEP_TIMES=()
STEP_NOTES=()
TESTS_PASSED=0 TESTS_FAILED=0 TESTS_SKIPPED=0

cleanup() {
	local rc=$?
	trap '' INT TERM
	if ((PG_UP)); then
		pg_stop "$PG_DATA" || true
	fi
	if [[ ${PICTOR_TEST_KEEP:-0} == 1 ]]; then
		msg "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fmt_duration() {
	local s=$1
	if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# record NAME RESULT SECONDS [NOTE]
record() {
	STEP_NAMES+=("$1")
	STEP_RESULTS+=("$2")
	STEP_TIMES+=("$3")
	STEP_NOTES+=("${4:-}")
}

# step NAME CMD...: runs CMD, records PASS/FAIL and its duration.
step() {
	local name=$1 start=$SECONDS rc=0
	shift
	printf '\n==> %s\n' "$name" >&2
	"$@" || rc=$?
	if ((rc == 0)); then
		record "$name" PASS $((SECONDS - start))
	else
		record "$name" FAIL $((SECONDS - start)) "exit $rc"
		msg "FAILED: $name (exit $rc)"
	fi
	return 0
}

# go_test_module [--name STEP] [--pkg PATTERN] DIR [ENV=VALUE...]: go test for one
# module with GOWORK=off, of PATTERN's packages (default ./...).
# It runs with -json to count results, and prints what plain `go test` would:
# package lines, build errors and the output of every test that did not pass
# or skip (failed, or cut short by a panic, os.Exit or the timeout).
go_test_module() {
	local name= pkg=./...
	if [[ $1 == --name ]]; then
		name=$2
		shift 2
	fi
	if [[ $1 == --pkg ]]; then
		pkg=$2
		shift 2
	fi
	local dir=$1 start=$SECONDS rc=0 json counts p f s
	name=${name:-test $dir}
	shift
	json="$WORK/$(tr ' /' '__' <<<"$name").json"
	printf '\n==> %s\n' "$name" >&2
	local race=()
	# A whole-module run of a service goes under the race detector; a run
	# of chosen packages (the ASan step) brings its own flags.
	if [[ $pkg == ./... && $RACE_MODULES == *" $dir "* ]]; then
		race=(-race)
		name="$name (race)"
	fi
	(cd "$ROOT/$dir" && env GOWORK=off "$@" go test -count=1 "${race[@]}" -timeout "$TIMEOUT" -json "$pkg" >"$json" 2>&1) || rc=$?
	jq -Rnr '
		[inputs | . as $line | (try fromjson catch null)
			| if type == "object" then . else {Raw: $line} end] as $events
		| ([$events[] | select(.Test != null and (.Action == "pass" or .Action == "skip"))
			| {key: "\(.Package) \(.Test)", value: true}] | from_entries) as $ok
		| $events[]
		| if .Raw != null then .Raw
		  elif .Action == "build-output" then (.Output // "" | rtrimstr("\n"))
		  elif .Action != "output" then empty
		  elif .Test == null then (if .Output == "PASS\n" then empty else (.Output | rtrimstr("\n")) end)
		  elif $ok["\(.Package) \(.Test)"] then empty
		  else (.Output | rtrimstr("\n")) end' "$json"
	counts=$(jq -Rr 'try fromjson catch empty | select(type == "object" and .Test != null) | .Action' "$json" |
		awk '$1 == "pass" {p++} $1 == "fail" {f++} $1 == "skip" {s++} END {printf "%d %d %d", p, f, s}')
	read -r p f s <<<"$counts"
	TESTS_PASSED=$((TESTS_PASSED + p)) TESTS_FAILED=$((TESTS_FAILED + f)) TESTS_SKIPPED=$((TESTS_SKIPPED + s))
	if ((rc == 0)); then
		record "$name" PASS $((SECONDS - start)) "$p passed, $s skipped"
	else
		record "$name" FAIL $((SECONDS - start)) "$p passed, $f failed, $s skipped; exit $rc"
		msg "FAILED: $name"
	fi
}

go_vet_module() {
	local race=()
	[[ $RACE_MODULES == *" $1 "* ]] && race=(-race)
	(cd "$ROOT/$1" && GOWORK=off go vet "${race[@]}" ./...)
}

# start_postgres: one cluster for the whole run; tests get databases from it
# through services/internal/pgtest (PICTOR_TEST_PG_URL).
start_postgres() {
	local port i
	pg_own_dir "$WORK/pg"
	pg_init "$PG_DATA" "$PG_LOG"
	for ((i = 0; i < 50; i++)); do
		port=$((20000 + RANDOM % 30000))
		port_in_use "$port" || break
	done
	pg_configure "$PG_DATA" "$port" "$WORK/pg" \
		fsync=off synchronous_commit=off full_page_writes=off max_connections=300
	PG_UP=1
	pg_start "$PG_DATA" "$PG_LOG"
	export PICTOR_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	msg "shared Postgres for this run: $PICTOR_TEST_PG_URL"
}

# fuzz_one DIR FN: a short run of FN (PICTOR_FUZZ_TIME, default 4s), its
# output in $WORK/fuzz.log.
fuzz_one() {
	(cd "$ROOT/$1" && GOWORK=off go test -run='^$' -fuzz="^$2\$" -fuzztime="${PICTOR_FUZZ_TIME:-4s}" . >"$WORK/fuzz.log" 2>&1)
}

# fuzz_deadline_race succeeds when the last run's only failure is Go's
# fuzzing coordinator reporting its own -fuzztime deadline
# (golang/go#75804, fixed in Go 1.27): a bare "context deadline exceeded"
# with no failing input written. Such a run is tried again, up to three
# times; any other failure stands.
fuzz_deadline_race() {
	! grep -q 'Failing input written' "$WORK/fuzz.log" &&
		grep -A1 -- '^--- FAIL: Fuzz' "$WORK/fuzz.log" | grep -q '^    context deadline exceeded$'
}

# fuzz_targets: every `func FuzzX` in the Go modules gets a short run on
# top of its seed corpus, which the module tests already ran. Longer runs:
# go test -fuzz=FuzzX -fuzztime=5m.
fuzz_targets() {
	local file dir fn rc=0
	while IFS= read -r file; do
		dir=$(dirname "$file")
		while IFS= read -r fn; do
			printf '  fuzz %s %s\n' "$dir" "$fn" >&2
			fuzz_one "$dir" "$fn" && continue
			# Up to three more runs: on a fast target the race came twice in
			# a row once (FuzzKeys, 14,000 inputs a second).
			local tries=0 ok=0
			while ((tries < 3)) && fuzz_deadline_race; do
				tries=$((tries + 1))
				printf '  (the fuzz coordinator deadline race, golang/go#75804: run %d more)\n' "$tries" >&2
				if fuzz_one "$dir" "$fn"; then
					ok=1
					break
				fi
			done
			((ok)) && continue
			rc=1
			cat "$WORK/fuzz.log" >&2
		done < <(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //')
	done < <(cd "$ROOT" && grep -rl --include='*_test.go' '^func Fuzz' "${MODULES[@]}")
	return "$rc"
}

# web_unit_tests: Vitest for the dashboard's logic and components; its
# counts join the totals.
web_unit_tests() {
	local name="web unit tests (vitest)" start=$SECONDS rc=0 json="$WORK/vitest.json" p=0 f=0 s=0
	printf '\n==> %s\n' "$name" >&2
	(cd "$ROOT/web" && npx vitest run --reporter=default --reporter=json --outputFile="$json") || rc=$?
	if [[ -f $json ]]; then
		read -r p f s < <(jq -r '"\(.numPassedTests) \(.numFailedTests) \(.numPendingTests + .numTodoTests)"' "$json")
	fi
	TESTS_PASSED=$((TESTS_PASSED + p)) TESTS_FAILED=$((TESTS_FAILED + f)) TESTS_SKIPPED=$((TESTS_SKIPPED + s))
	if ((rc == 0)); then
		record "$name" PASS $((SECONDS - start)) "$p passed, $s skipped"
	else
		record "$name" FAIL $((SECONDS - start)) "$p passed, $f failed, $s skipped; exit $rc"
		msg "FAILED: $name"
	fi
}

summary() {
	local i failed=0 passed=0 line
	printf '\n==================== summary ====================\n'
	for i in "${!STEP_NAMES[@]}"; do
		line=$(printf '  %-4s  %-32s %8s' "${STEP_RESULTS[$i]}" "${STEP_NAMES[$i]}" "$(fmt_duration "${STEP_TIMES[$i]}")")
		[[ -n ${STEP_NOTES[$i]} ]] && line+="   (${STEP_NOTES[$i]})"
		printf '%s\n' "$line"
		if [[ ${STEP_RESULTS[$i]} == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	done
	printf 'total time %s\n' "$(fmt_duration $((SECONDS - RUN_START)))"
	printf 'steps: %d passed, %d failed\n' "$passed" "$failed"
	printf 'tests: %d passed, %d failed, %d skipped\n' "$TESTS_PASSED" "$TESTS_FAILED" "$TESTS_SKIPPED"
	((failed == 0))
}

# alert_rules checks deploy/prometheus/alerts.yaml and runs its unit tests
# with promtool (scripts/bootstrap.sh --test puts it in .dev/bin).
alert_rules() {
	local promtool=$ROOT/.dev/bin/promtool
	"$promtool" check rules deploy/prometheus/alerts.yaml &&
		(cd deploy/prometheus && "$promtool" test rules alerts_test.yaml)
}

# ---------------------------------------------------------------- run

step bootstrap "$SCRIPTS/bootstrap.sh" --test
if [[ ${STEP_RESULTS[-1]} != PASS ]]; then
	summary || true
	die "bootstrap failed; nothing else can run"
fi
step check-gen "$SCRIPTS/gen.sh" --check
step gofmt "$SCRIPTS/gofmt.sh" -l
step "alert rules (promtool)" alert_rules

printf '\n==> start Postgres\n' >&2
pg_started_at=$SECONDS
start_postgres # dies (after printing the server log) if the cluster cannot start
record "start Postgres" PASS $((SECONDS - pg_started_at))

# Tests before vet: vet needs compiled dependencies, and after the tests
# it finds them in the build cache (the other order compiles them twice).
for m in "${MODULES[@]}"; do
	go_test_module "$m"
	step "vet $m" go_vet_module "$m"
done

# The edge's libvips code under AddressSanitizer, a build of its own (Go and
# vips.c instrumented; it cannot be combined with -race): concurrent
# transforms over the malformed and odd corpora with kills and cancellations
# for ~20 s. G_SLICE makes GLib free objects through malloc, where ASan sees
# a double free; GLib's and libvips' process-lifetime allocations are not
# leaks worth a report (TestNoObjectsLeak counts libvips objects instead);
# addr2line names the C frames of a report.
go_test_module --name "asan stress (transform)" --pkg ./internal/transform/ services/edge \
	GOFLAGS="-asan -run=$ASAN_TEST" G_SLICE=always-malloc \
	ASAN_OPTIONS="detect_leaks=0:external_symbolizer_path=$(command -v addr2line || true)"

step "fuzz (short runs)" fuzz_targets
web_unit_tests

step "build binaries" "$SCRIPTS/build.sh" "$WORK/bin"
step "vet $E2E_MODULE" go_vet_module "$E2E_MODULE"
if [[ ${STEP_RESULTS[-2]} == PASS ]]; then
	go_test_module "$E2E_MODULE" PICTOR_E2E_BIN_DIR="$WORK/bin" GOFLAGS="-skip=$BROWSER_TEST"
	go_test_module --name "browser tests" "$E2E_MODULE" PICTOR_E2E_BIN_DIR="$WORK/bin" GOFLAGS="-run=$BROWSER_TEST"
else
	record "test $E2E_MODULE" FAIL 0 "not run: the build failed"
	record "browser tests" FAIL 0 "not run: the build failed"
fi

summary
