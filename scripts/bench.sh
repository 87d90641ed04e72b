#!/usr/bin/env bash
# bench.sh: measure the real gatehouse binary under load and print one table
# of ratios; `make bench` runs it. Every figure is a ratio against a
# reference measured in the same run (the same server's bare /healthz, or
# the same request on a smaller database), because the machines it runs on
# are shared and noisy: absolute rates vary from run to run, ratios much
# less.
#
#   BENCH_BIN=path   measure this binary instead of building bin/gatehouse
#                    with the Makefile's flags (e.g. an older commit's)
#   BENCH_OUT=path   the JSON result (default artifacts/bench.json)
#   BENCH_DUR=5s     wrk duration per figure (a 1 s warm-up runs first)
#
# Load generator: Debian's wrk (installed here as root, like
# scripts/test-deps.sh installs the test programs). The data directories
# are seeded by TestBenchSeed (model/bench_seed_test.go), which writes to
# the store directly; the measured server is the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DUR=${BENCH_DUR:-5s}
OUT=${BENCH_OUT:-artifacts/bench.json}
WRK="wrk -t2 -c32"

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench: installing wrk (apt-get install -y wrk)"
		apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
	else
		echo "bench: wrk is missing; install it with: sudo apt-get install -y wrk" >&2
		exit 1
	fi
fi
for cmd in curl awk; do
	command -v "$cmd" >/dev/null 2>&1 || { echo "bench: $cmd is missing (apt-get install -y $cmd)" >&2; exit 1; }
done

BIN=${BENCH_BIN:-}
if [ -z "$BIN" ]; then
	make --no-print-directory build >/dev/null
	BIN=bin/gatehouse
fi
BIN=$(realpath "$BIN")

WORK=$(mktemp -d)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# seed DIR USERS TOKENS: a data directory with that many users and tokens.
seed() {
	GATEHOUSE_BENCH_SEED="$1" GATEHOUSE_BENCH_USERS="$2" GATEHOUSE_BENCH_TOKENS="$3" \
		"$GO" test -count=1 -run '^TestBenchSeed$' ./model >/dev/null
}
seedval() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1/seed.json"; }

PORT=18431
URL=http://127.0.0.1:$PORT
# start DIR: start the server on DIR; sets PID and START_MS (exec to the
# first 200 from /healthz).
start() {
	local t0 t1
	t0=$(date +%s%N)
	"$BIN" serve --data "$1" --listen "127.0.0.1:$PORT" >>"$WORK/server.log" 2>&1 &
	PID=$!
	for _ in $(seq 1 500); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz" 2>/dev/null)" = 200 ]; then
			t1=$(date +%s%N)
			START_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e6}')
			return
		fi
		sleep 0.01
	done
	echo "bench: the server did not answer; its log:" >&2
	cat "$WORK/server.log" >&2
	exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
# rss_mb FIELD: VmRSS (all resident memory) or RssAnon (without the
# binary's and the database's file pages) of the server, in MB.
rss_mb() { awk -v f="$1:" '$1==f{printf "%.1f", $2/1024}' "/proc/$PID/status"; }

# rate ARGS...: requests per second of wrk ARGS (after a 1 s warm-up).
rate() {
	$WRK -d1s "$@" >/dev/null
	$WRK -d"$DUR" "$@" >"$WORK/wrk.txt"
	if grep -q 'Non-2xx' "$WORK/wrk.txt"; then
		echo "bench: non-2xx answers for $*:" >&2
		cat "$WORK/wrk.txt" >&2
		exit 1
	fi
	awk '/^Requests\/sec:/{print $2}' "$WORK/wrk.txt"
}
# p99 ARGS...: the 99th percentile latency in ms of wrk --latency ARGS.
p99() {
	wrk --latency "$@" >"$WORK/lat.txt"
	awk '$1=="99%"{v=$2; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
		f=(u=="us")?0.001:(u=="s")?1000:1; printf "%.3f", v*f}' "$WORK/lat.txt"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
mean() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (a+b)/2}'; }

echo "bench: seeding (10 users, 10 tokens; 10,000 users, 100,000 tokens)"
seed "$WORK/small" 10 10
seed "$WORK/large" 10000 100000
TOKEN_S=$(seedval "$WORK/small" token)
TOKEN_L=$(seedval "$WORK/large" token)
PASSWORD=$(seedval "$WORK/small" password)

login_cookie() { # login_cookie: a session cookie of the admin "bench"
	curl -s -c "$WORK/jar" -o /dev/null -d "username=bench&password=$PASSWORD" "$URL/login"
	awk '$6=="gh_session"{print "gh_session=" $7}' "$WORK/jar"
}

cat >"$WORK/login.lua" <<EOF
wrk.method = "POST"
wrk.body = "username=bench&password=$PASSWORD"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
EOF
# user_lua PREFIX: a wrk script creating users PREFIX<thread>x<n>.
user_lua() {
	cat >"$WORK/create_user.lua" <<EOF
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
	n = n + 1
	local name = "$1" .. tid .. "x" .. n
	return wrk.format(nil, nil, nil, '{"username":"' .. name .. '","password":"bench-Password-1","email":"' .. name .. '@example.com"}')
end
EOF
}
cat >"$WORK/create_token.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"expires_at":"2030-01-01T00:00:00Z","scope":"read"}'
EOF

PAGE="per_page=10"
echo "bench: 10 users"
start "$WORK/small"
START_SMALL=$START_MS
sleep 1
RSS_IDLE=$(rss_mb VmRSS)
ANON_IDLE=$(rss_mb RssAnon)
AUTH_S="Authorization: Bearer $TOKEN_S"
HZ1=$(rate "$URL/healthz")
ME=$(rate -H "$AUTH_S" "$URL/api/v1/me")
API_S=$(rate -H "$AUTH_S" "$URL/api/v1/users?$PAGE")
COOKIE_S=$(login_cookie)
UI_S=$(rate -H "Cookie: $COOKIE_S" "$URL/settings/users?$PAGE")
HZ2=$(rate "$URL/healthz")
HZ_S=$(mean "$HZ1" "$HZ2")

echo "bench: login and argon2id"
GATEHOUSE_BENCH_LOGIN="$URL" "$GO" test -count=1 -run '^TestBenchLogin$' -v ./model >"$WORK/login.txt"
LOGIN_MS=$(awk '/^login_median_ms/{print $2}' "$WORK/login.txt")
HASH_MS=$(awk '/^hash_median_ms/{print $2}' "$WORK/login.txt")

echo "bench: /api/v1/me p99 idle and while 64 clients log in"
# Two rounds of idle then loaded, averaged: the machine's noise comes and
# goes in seconds.
P99_I=() P99_L=()
for _ in 1 2; do
	P99_I+=("$(p99 -t1 -c4 -d"$DUR" -H "$AUTH_S" "$URL/api/v1/me")")
	wrk -t2 -c64 -d"$(( ${DUR%s} + 2 ))s" -s "$WORK/login.lua" "$URL/login" >"$WORK/login-load.txt" &
	LOADPID=$!
	sleep 1
	P99_L+=("$(p99 -t1 -c4 -d"$DUR" -H "$AUTH_S" "$URL/api/v1/me")")
	wait "$LOADPID"
done
P99_IDLE=$(mean "${P99_I[0]}" "${P99_I[1]}")
P99_LOAD=$(mean "${P99_L[0]}" "${P99_L[1]}")
LOGIN_RATE=$(awk '/^Requests\/sec:/{print $2}' "$WORK/login-load.txt")

# created ARGS...: successful (2xx) requests per second of wrk ARGS; the
# refused ones (429 when the hashing queue is full) are counted apart.
created() {
	wrk "$@" >"$WORK/create.txt"
	awk '/requests in/{n=$1; d=$4; sub(/s,?$/,"",d)} /Non-2xx/{bad=$NF}
		END{printf "%.1f", (n-bad)/d}' "$WORK/create.txt"
}
echo "bench: creates"
user_lua one
C_USER_1=$(created -t1 -c1 -d3s -s "$WORK/create_user.lua" -H "$AUTH_S" "$URL/api/v1/users")
user_lua many
C_USER_16=$(created -t2 -c16 -d3s -s "$WORK/create_user.lua" -H "$AUTH_S" "$URL/api/v1/users")
C_TOK_1=$(created -t1 -c1 -d3s -s "$WORK/create_token.lua" -H "$AUTH_S" "$URL/api/v1/users/1/tokens")
C_TOK_16=$(created -t2 -c16 -d3s -s "$WORK/create_token.lua" -H "$AUTH_S" "$URL/api/v1/users/1/tokens")
# Logins still queued when the load stopped finish within 2 s; the hashes'
# memory is handed back 0.5 s after the last one.
sleep 4
RSS_LOAD=$(rss_mb VmRSS)
ANON_LOAD=$(rss_mb RssAnon)
stop

echo "bench: 10,000 users"
start "$WORK/large"
START_LARGE=$START_MS
AUTH_L="Authorization: Bearer $TOKEN_L"
COOKIE_L=$(login_cookie)
# The first list decodes the 10,000 users (once per change to them); the
# start's own work on the larger database settles meanwhile.
curl -s -o /dev/null -H "$AUTH_L" "$URL/api/v1/users?$PAGE"
sleep 2
HZ3=$(rate "$URL/healthz")
API_L=$(rate -H "$AUTH_L" "$URL/api/v1/users?$PAGE")
UI_L=$(rate -H "Cookie: $COOKIE_L" "$URL/settings/users?$PAGE")
HZ4=$(rate "$URL/healthz")
HZ_L=$(mean "$HZ3" "$HZ4")
stop

GOBENCH=${OUT%.json}-go.txt
echo "bench: Go benchmarks (go test -bench; full output in $GOBENCH, compare runs with benchstat)"
mkdir -p "$(dirname "$GOBENCH")"
{
	"$GO" test -run '^$' -bench 'BenchmarkTokenLookupDB/interleaved' -benchtime 20000x ./model
	"$GO" test -run '^$' -bench 'BenchmarkUsersPage|BenchmarkHashDefault' -benchtime 2s -benchmem ./model
	"$GO" test -run '^$' -bench 'BenchmarkUserList|BenchmarkUsersJSON|BenchmarkLogin|BenchmarkAPIMe/inprocess' -benchtime 1s -benchmem ./handlers
} >"$GOBENCH"
# metric NAME LINE-PATTERN: the value reported before NAME on the line.
metric() { awk -v m="$1" -v p="$2" '$0 ~ p {for(i=2;i<=NF;i++) if($i==m) {print $(i-1); exit}}' "$GOBENCH"; }
TOKEN_RATIO=$(awk -v s="$(metric 100k/10-slower-% 'TokenLookupDB/interleaved')" 'BEGIN{printf "%.3f", 1/(1+s/100)}')
GO_PAGE=$(metric 10k/10-rate 'UsersPage/interleaved')
GO_API=$(metric list/bare-rate 'UserList/api/interleaved')
GO_HTML=$(metric list/bare-rate 'UserList/html/interleaved')
GO_ME=$(metric me/bare-rate 'APIMe/inprocess/interleaved')

# Figures: name, value, target ("" when only reported), the comparison.
R_ME=$(ratio "$ME" "$HZ_S")
R_API=$(ratio "$API_S" "$HZ_S")
R_UI=$(ratio "$UI_S" "$HZ_S")
R_API_L=$(ratio "$(ratio "$API_L" "$HZ_L")" "$R_API")
R_UI_L=$(ratio "$(ratio "$UI_L" "$HZ_L")" "$R_UI")
R_LOGIN=$(ratio "$LOGIN_MS" "$HASH_MS")
R_P99=$(ratio "$P99_LOAD" "$P99_IDLE")
FIGURES=(
	"me_vs_healthz|GET /api/v1/me (token) / GET /healthz, req/s|$R_ME|>=0.9"
	"users_api_vs_healthz|GET /api/v1/users (10 users) / /healthz|$R_API|>=0.5"
	"users_ui_vs_healthz|User tab HTML (first page) / /healthz|$R_UI|>=0.3"
	"users_api_10k_vs_10|API list first page, 10,000 vs 10 users|$R_API_L|>=0.8"
	"users_ui_10k_vs_10|User tab first page, 10,000 vs 10 users|$R_UI_L|>=0.8"
	"token_100k_vs_10|token lookup not cached, 100,000 vs 10 tokens|$TOKEN_RATIO|>=0.95"
	"login_vs_hash|password login / one argon2id hash (median, ms)|$R_LOGIN|<=1.2"
	"me_p99_login_load_vs_idle|p99 /api/v1/me, 64 clients on /login / idle|$R_P99|<=2"
	"rss_idle_mb|idle RSS after start, MB|$RSS_IDLE|<=16"
	"rss_after_load_mb|RSS 4 s after the load, MB|$RSS_LOAD|<=30"
	"rss_anon_mb|of which anonymous (not file pages), idle / after load, MB|$ANON_IDLE / $ANON_LOAD|"
	"go_users_page_10k_vs_10|go test: store's first page, 10,000 vs 10 users|$GO_PAGE|>=0.8"
	"go_me_vs_healthz|go test, in process: /api/v1/me / /healthz|$GO_ME|"
	"go_users_api_vs_healthz|go test, in process: /api/v1/users / /healthz|$GO_API|"
	"go_users_ui_vs_healthz|go test, in process: User tab / /healthz|$GO_HTML|"
	"start_ms|start to first 200 from /healthz, ms (10 / 10,000 users)|$START_SMALL / $START_LARGE|"
	"user_creates_per_s|user creates/s (201 only), 1 / 16 clients|$C_USER_1 / $C_USER_16|"
	"token_creates_per_s|token creates/s (201 only), 1 / 16 clients|$C_TOK_1 / $C_TOK_16|"
)
meets() { # meets VALUE TARGET: yes, no or "" (reported only)
	case "$2" in
	'>='*) awk -v v="$1" -v t="${2#>=}" 'BEGIN{print (v>=t)?"yes":"no"}' ;;
	'<='*) awk -v v="$1" -v t="${2#<=}" 'BEGIN{print (v<=t)?"yes":"no"}' ;;
	*) echo "" ;;
	esac
}

echo
printf '| %-58s | %-16s | %-7s | %-3s |\n' figure value target ok
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 60))" "$(printf -- '-%.0s' $(seq 18))" "---------" "-----"
for f in "${FIGURES[@]}"; do
	IFS='|' read -r _ label value target <<<"$f"
	printf '| %-58s | %-16s | %-7s | %-3s |\n' "$label" "$value" "$target" "$(meets "$value" "$target")"
done
printf '\nreferences: /healthz %s req/s (10 users), %s req/s (10,000 users); argon2id hash %s ms; login %s ms;\n' "$HZ_S" "$HZ_L" "$HASH_MS" "$LOGIN_MS"
printf 'p99 /api/v1/me %s ms idle, %s ms under %s logins/s\n' "$P99_IDLE" "$P99_LOAD" "$LOGIN_RATE"

mkdir -p "$(dirname "$OUT")"
{
	printf '{\n'
	printf '  "date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '  "commit": "%s",\n' "$(git describe --always --dirty 2>/dev/null || echo unknown)"
	printf '  "binary": "%s",\n' "$BIN"
	printf '  "machine": {"cpu": "%s", "cores": %s, "kernel": "%s"},\n' \
		"$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)" "$(nproc)" "$(uname -sr)"
	printf '  "wrk": "%s -d%s",\n' "$WRK" "$DUR"
	printf '  "go_benchmarks": "%s",\n' "$GOBENCH"
	printf '  "figures": {\n'
	n=0
	for f in "${FIGURES[@]}"; do
		IFS='|' read -r key label value target <<<"$f"
		n=$((n + 1))
		sep=,; [ "$n" = "${#FIGURES[@]}" ] && sep=
		printf '    "%s": {"label": "%s", "value": "%s", "target": "%s", "ok": "%s"}%s\n' \
			"$key" "$label" "$value" "$target" "$(meets "$value" "$target")" "$sep"
	done
	printf '  },\n'
	printf '  "references": {"healthz_rps_10": %s, "healthz_rps_10k": %s, "me_rps": %s, "users_api_rps_10": %s, "users_ui_rps_10": %s,\n' \
		"$HZ_S" "$HZ_L" "$ME" "$API_S" "$UI_S"
	printf '    "users_api_rps_10k": %s, "users_ui_rps_10k": %s, "hash_median_ms": %s, "login_median_ms": %s,\n' \
		"$API_L" "$UI_L" "$HASH_MS" "$LOGIN_MS"
	printf '    "me_p99_idle_ms": %s, "me_p99_load_ms": %s, "logins_per_s_under_load": %s}\n' "$P99_IDLE" "$P99_LOAD" "$LOGIN_RATE"
	printf '}\n'
} >"$OUT"
echo "bench: written to $OUT"
