#!/usr/bin/env bash
# Import benchmark: starts its own redis-server on a free port, generates N applications
# (default 112,000), imports them twice with the gateway binary, measures the raw pipelined
# HSET rate of the same server with the same pipeline size and concurrency, and prints both
# rates, their ratio (target ≥ 0.25), the second run's summary and MEMORY USAGE per application.
#
#   bench/import.sh [N]
set -euo pipefail
N=${1:-112000}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

go build ${GOFLAGS_EXTRA:-} -o "$WORK/gateway" ./cmd/gateway
go build -o "$WORK/rawhset" ./bench/rawhset
"$WORK/gateway" demo generate --applications "$N" --out "$WORK" --seed 1 >/dev/null

export REDIS_URL="redis://127.0.0.1:$PORT/0" LOOKUP_HASH_KEY="bench-key-0123456789abcdef0123456789"
rate() { sed -n 's/.*rows in [0-9.]*s, \([0-9]*\) rows\/s.*/\1/p'; }
FIRST=$(/usr/bin/time -f '%M' -o "$WORK/rss" "$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null)
SECOND=$("$WORK/gateway" import applications "$WORK/applications.csv" 2>/dev/null)
RAW=$("$WORK/rawhset" -addr "127.0.0.1:$PORT" -db 1 "$WORK/applications.csv")

MEM=$(redis-cli -p "$PORT" -n 0 --raw eval "
local total, n, cur = 0, 0, '0'
repeat
  local r = redis.call('SCAN', cur, 'MATCH', '{lookup:changes}:[ap]:*', 'COUNT', 1000)
  cur = r[1]
  for _, k in ipairs(r[2]) do
    total = total + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', 0)
    if string.find(k, ':a:', 1, true) then n = n + 1 end
  end
until cur == '0'
return {total, n}" 0 | paste -sd' ')
read -r TOTAL APPS <<<"$MEM"

R1=$(echo "$FIRST" | rate); R2=$(echo "$SECOND" | rate); RR=$(echo "$RAW" | sed -n 's/.* \([0-9]*\) rows\/s/\1/p')
echo "first import:  $FIRST"
echo "second import: $SECOND"
echo "$RAW"
awk -v a="$R1" -v b="$R2" -v r="$RR" 'BEGIN { printf "ratio first import / raw HSET: %.2f (target >= 0.25); second import / raw: %.2f\n", a/r, b/r }'
awk -v t="$TOTAL" -v n="$APPS" 'BEGIN { printf "memory per application (record + phone index, MEMORY USAGE): %.0f bytes over %d applications\n", t/n, n }'
echo "peak RSS of the first import: $(( $(cat "$WORK/rss") / 1024 )) MiB"
redis-cli -p "$PORT" info memory | grep -E '^used_memory_human' | tr -d '\r'
