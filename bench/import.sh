#!/usr/bin/env bash
# Import benchmark, all in one run on this machine:
#   - a single redis-server: N generated applications (default 112,000) imported twice with the
#     gateway binary, against the raw pipelined 12-field HSET of the same rows on the same server
#     (same pipeline size and concurrency): both rates and their ratio (target ≥ 0.5), the second
#     run's summary, Redis memory per application (record + phone index, MEMORY USAGE; target
#     ≤ 300 B) and the importer's peak RSS;
#   - a real Redis Cluster of 3 masters + 3 replicas on loopback: the same import, its rate
#     against the single server's (target ≥ 0.8), and the keys and memory each master holds
#     (busiest target ≤ 40%).
#
#   bench/import.sh [N]
set -euo pipefail
N=${1:-112000}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitping() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "redis on $1 did not start" >&2; exit 1; }

PORT=$(freeport)
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
waitping "$PORT"

go build ${GOFLAGS_EXTRA:-} -o "$WORK/gateway" ./cmd/gateway
go build -o "$WORK/rawhset" ./bench/rawhset
"$WORK/gateway" demo generate --applications "$N" --out "$WORK" --seed 1 >/dev/null

export LOOKUP_HASH_KEY="bench-key-0123456789abcdef0123456789"
rate() { sed -n 's/.*rows in [0-9.]*s, \([0-9]*\) rows\/s.*/\1/p'; }
FIRST=$(REDIS_URL="redis://127.0.0.1:$PORT/0" /usr/bin/time -f '%M' -o "$WORK/rss" "$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null)
SECOND=$(REDIS_URL="redis://127.0.0.1:$PORT/0" "$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null)
RAW=$("$WORK/rawhset" -addr "127.0.0.1:$PORT" -db 1 "$WORK/applications.csv")

MEM=$(redis-cli -p "$PORT" -n 0 --raw eval "
local total, n, cur = 0, 0, '0'
repeat
  local r = redis.call('SCAN', cur, 'MATCH', 'lk{*}[ap]:*', 'COUNT', 1000)
  cur = r[1]
  for _, k in ipairs(r[2]) do
    total = total + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', 0)
    if string.find(k, '}a:', 1, true) then n = n + 1 end
  end
until cur == '0'
return {total, n}" 0 | paste -sd' ')
read -r TOTAL APPS <<<"$MEM"

# The cluster: 6 nodes, replicas 1, node timeout 2 s.
CPORTS=()
for i in 1 2 3 4 5 6; do
  P=$(freeport); B=$(freeport); mkdir -p "$WORK/c$i"
  redis-server --port "$P" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 2000 --cluster-port "$B" --dir "$WORK/c$i" --save "" --appendonly no --daemonize no >"$WORK/c$i/log" 2>&1 &
  PIDS+=($!); CPORTS+=("$P")
done
for P in "${CPORTS[@]}"; do waitping "$P"; done
redis-cli --cluster create $(for P in "${CPORTS[@]}"; do printf '127.0.0.1:%s ' "$P"; done) --cluster-replicas 1 --cluster-yes >"$WORK/create.log" 2>&1
for _ in $(seq 200); do
  ok=0; for P in "${CPORTS[@]}"; do redis-cli -p "$P" cluster info | grep -q 'cluster_state:ok' && ok=$((ok+1)); done
  [ "$ok" = 6 ] && break; sleep 0.1
done
MASTERS=(); for P in "${CPORTS[@]}"; do redis-cli -p "$P" role | head -1 | grep -q master && MASTERS+=("$P"); done
used() { redis-cli -p "$1" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
declare -A BEFORE; for P in "${MASTERS[@]}"; do BEFORE[$P]=$(used "$P"); done
CLUSTER_URL="redis://$(for P in "${CPORTS[@]}"; do printf '127.0.0.1:%s,' "$P"; done | sed 's/,$//')"
CLUSTER=$(REDIS_URL="$CLUSTER_URL" "$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null)
TK=0; TM=0; declare -A K M
for P in "${MASTERS[@]}"; do K[$P]=$(redis-cli -p "$P" dbsize); M[$P]=$(( $(used "$P") - BEFORE[$P] )); TK=$((TK + K[$P])); TM=$((TM + M[$P])); done

# The machine is shared and noisy: the rates are compared round by round (single-server import,
# raw HSET, cluster import, one after the other), ROUNDS times, and the median ratio reported.
ROUNDS=${ROUNDS:-5}
R1S=(); RRS=(); RCS=(); QS=(); CS=()
for r in $(seq "$ROUNDS"); do
  redis-cli -p "$PORT" -n 0 flushdb >/dev/null
  for P in "${MASTERS[@]}"; do redis-cli -p "$P" flushall >/dev/null; done
  A=$(REDIS_URL="redis://127.0.0.1:$PORT/0" "$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null | rate)
  W=$("$WORK/rawhset" -addr "127.0.0.1:$PORT" -db 1 "$WORK/applications.csv" | sed -n 's/.* \([0-9]*\) rows\/s/\1/p')
  C=$(REDIS_URL="$CLUSTER_URL" "$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null | rate)
  R1S+=("$A"); RRS+=("$W"); RCS+=("$C")
  QS+=("$(awk -v a="$A" -v w="$W" 'BEGIN { printf "%.2f", a/w }')"); CS+=("$(awk -v a="$A" -v c="$C" 'BEGIN { printf "%.2f", c/a }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "first import:   $FIRST"
echo "second import:  $SECOND"
echo "$RAW"
echo "cluster import: $CLUSTER"
echo "rounds (single-server import / raw HSET / cluster import, rows/s): $(for i in "${!R1S[@]}"; do printf '%s/%s/%s ' "${R1S[$i]}" "${RRS[$i]}" "${RCS[$i]}"; done)"
echo "ratio single-server import / raw HSET per round: ${QS[*]}; median $(median "${QS[@]}") (target >= 0.5)"
echo "ratio cluster import / single-server import per round: ${CS[*]}; median $(median "${CS[@]}") (target >= 0.8)"
awk -v t="$TOTAL" -v n="$APPS" 'BEGIN { printf "memory per application (record + phone index, MEMORY USAGE): %.0f bytes over %d applications (target <= 300)\n", t/n, n }'
echo "peak RSS of the first import: $(( $(cat "$WORK/rss") / 1024 )) MiB"
i=0; for P in "${MASTERS[@]}"; do i=$((i+1))
  awk -v i="$i" -v k="${K[$P]}" -v tk="$TK" -v m="${M[$P]}" -v tm="$TM" 'BEGIN { printf "cluster master %d: %d keys (%.1f%%), %.1f MiB added (%.1f%%)\n", i, k, 100*k/tk, m/1048576, 100*m/tm }'
done
