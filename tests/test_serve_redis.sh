#!/usr/bin/env bash
# test_serve_redis.sh — `mnemo serve --cache-redis` against a real redis-server
# (Debian's, started here on a free loopback port and a unix socket; missing
# is a failure, not a skip): two replicas on one Redis, a vector computed by
# replica A is a Redis hit on replica B (its /metrics, no tokens computed) and
# identical; many inputs in one request (one MGET); values carry the TTL; a
# garbage or truncated value is a counted miss, never a crash; Redis paused
# (slow) or stopped mid-test: every request still 200 with the same vectors,
# errors counted, lookups skipped while down (no retry per request); Redis
# back: each replica reconnects by itself and hits resume; another model name
# gets its own keys; --cache-ttl 0 never expires; a password (hidden in the
# settings line) and a database number work, a wrong password is a counted
# connect error; a replica started while Redis is unreachable serves anyway;
# a bad URL is a startup error.
# usage: test_serve_redis.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "FAIL: redis-server and redis-cli are needed (scripts/install-deps.sh --test installs them)"
  exit 1
fi
free_port() { py 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
SOCK=$T/redis.sock
start_redis() {
  redis-server --port "$RPORT" --bind 127.0.0.1 --unixsocket "$SOCK" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$T" --daemonize no >>"$T/redis.log" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  for _ in $(seq 1 100); do rc PING 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
  echo "redis-server did not start:"; cat "$T/redis.log"; return 1
}
rc() { redis-cli -p "$RPORT" "$@"; }
start_redis || exit 1
REDIS=redis://127.0.0.1:$RPORT

# replica NAME ARGS... : a server with the Redis tier, ready; sets URL_<NAME>, PID_<NAME>
replica() {
  local name=$1; shift
  start "$name" --model "$MODEL" --cache-ttl 600 "$@" && wait_ready ||
    { echo "replica $name did not start"; cat "$T/$name.log"; exit 1; }
  eval "URL_$name=\$URL PID_$name=\$PID"
}
# vec URL TEXT... : the embeddings of the texts (JSON) in $VEC, the status in $CODE
vec() {
  local url=$1; shift
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' "$url/v1/embeddings" \
    -d "$(py 'import json,sys; print(json.dumps({"input": sys.argv[1:]}))' "$@")")
  VEC=$(py 'import json; print(json.dumps([e["embedding"] for e in json.load(open("'"$T/body"'"))["data"]]))' 2>/dev/null)
}
# metric URL NAME : a sample's value (NAME may carry labels)
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }
# wait_keys N : until Redis holds at least N keys (writes are asynchronous)
wait_keys() {
  for _ in $(seq 1 100); do [ "$(rc DBSIZE)" -ge "$1" ] && return 0; sleep 0.05; done
  return 1
}
keys() { rc --scan --pattern 'mnemo:v1:*' | sort; }
ok() { [ "$1" ] && echo 0 || echo 1; }

# --- a URL that cannot work: a startup error naming the flag, before loading
for bad in 'redis://127.0.0.1:99999' 'rediss://127.0.0.1' 'http://127.0.0.1:6379' 'redis://' \
           'unix://relative.sock' 'redis://127.0.0.1/x'; do
  "$MNEMO" serve --model "$MODEL" --port 0 --cache-redis "$bad" >"$T/bad.log" 2>&1
  st=$?
  check "bad URL '$bad': exit 2 naming --cache-redis" \
    $([ $st = 2 ] && grep -q -- "--cache-redis '$bad'" "$T/bad.log" && grep -q "expected redis://" "$T/bad.log" && echo 0 || echo 1)
done
"$MNEMO" serve --model "$MODEL" --port 0 --cache-redis 'redis://127.0.0.1:1' --cache-redis-timeout-ms 0 >"$T/bad.log" 2>&1
check "--cache-redis-timeout-ms 0: exit 2" $([ $? = 2 ] && grep -q "cache-redis-timeout-ms" "$T/bad.log" && echo 0 || echo 1)

# --- two replicas on one Redis (a password-less URL with an explicit db 0)
replica A --cache-redis "$REDIS/0"
replica B --cache-redis "$REDIS"
check "replica A: Redis up in /metrics" $(ok "$([ "$(metric "$URL_A" mnemo_cache_redis_up)" = 1 ] && echo y)")
check "replica B: Redis up in /metrics" $(ok "$([ "$(metric "$URL_B" mnemo_cache_redis_up)" = 1 ] && echo y)")

vec "$URL_A" "the alpha text"; vA=$VEC
check "A: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
wait_keys 1
check "A's vector written to Redis" $?
KEY=$(keys | head -1)
check "the key is under mnemo:v1: (32 hex digits)" $(ok "$(echo "$KEY" | grep -E '^mnemo:v1:[0-9a-f]{32}$')")
ttl=$(rc TTL "$KEY")
check "the value has the TTL of --cache-ttl (0 < $ttl <= 600)" $([ "$ttl" -gt 0 ] && [ "$ttl" -le 600 ] && echo 0 || echo 1)
check "the value: header, key and 8 floats (> 32 bytes)" $([ "$(rc STRLEN "$KEY")" -gt 64 ] && echo 0 || echo 1)

h0=$(metric "$URL_B" mnemo_cache_redis_hits_total)
t0=$(metric "$URL_B" mnemo_tokens_computed_total)
vec "$URL_B" "the alpha text"; vB=$VEC
check "B: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
check "B: a Redis hit ($h0 -> $(metric "$URL_B" mnemo_cache_redis_hits_total))" \
  $([ "$(metric "$URL_B" mnemo_cache_redis_hits_total)" = $((h0 + 1)) ] && echo 0 || echo 1)
check "B: nothing computed" $([ "$(metric "$URL_B" mnemo_tokens_computed_total)" = "$t0" ] && echo 0 || echo 1)
check "B's vector is A's, exactly" $([ -n "$vA" ] && [ "$vA" = "$vB" ] && echo 0 || echo 1)
lh=$(metric "$URL_B" mnemo_cache_hits_total)
vec "$URL_B" "the alpha text"
check "a Redis hit fills B's local cache (a local hit next)" \
  $([ "$(metric "$URL_B" mnemo_cache_hits_total)" = $((lh + 1)) ] && echo 0 || echo 1)

# --- many inputs: one lookup for all of them
n0=$(rc DBSIZE)
vec "$URL_A" m1 m2 m3 m4; vm=$VEC
wait_keys $((n0 + 4))
check "A: 4 inputs, 4 keys" $?
h0=$(metric "$URL_B" mnemo_cache_redis_hits_total)
c0=$(metric "$URL_B" mnemo_cache_redis_seconds_count)
vec "$URL_B" m1 m2 new-on-b m3 m4; vm2=$VEC
check "B: 4 of 5 inputs from Redis" $([ "$(metric "$URL_B" mnemo_cache_redis_hits_total)" = $((h0 + 4)) ] && echo 0 || echo 1)
check "B: in one round trip" $([ "$(metric "$URL_B" mnemo_cache_redis_seconds_count)" = $((c0 + 1)) ] && echo 0 || echo 1)
check "B: the same 4 vectors, in order" $(py "import json; a=json.loads('''$vm'''); b=json.loads('''$vm2'''); print(0 if a == b[:2]+b[3:] else 1)")

# burst URL N TAG : N requests from 8 clients at once; the statuses, sorted and counted
burst() {
  seq 1 "$2" | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
    "$1/v1/embeddings" -d "{\"input\": [\"$3 {}\", \"the alpha text\", \"m{}\"]}" | sort | uniq -c | tr -s ' '
}
check "48 requests from 8 clients at once on A: all 200" $([ "$(burst "$URL_A" 48 burst)" = " 48 200" ] && echo 0 || echo 1)
check "the same on B (Redis hits from 8 threads, more than the pool)" \
  $([ "$(burst "$URL_B" 48 burst)" = " 48 200" ] && echo 0 || echo 1)

# settle : until the writes in flight have landed (DBSIZE the same over 0.3 s)
settle() {
  local last=-1 same=0
  for _ in $(seq 1 100); do
    n=$(rc DBSIZE)
    if [ "$n" = "$last" ]; then same=$((same + 1)); [ $same -ge 3 ] && return 0; else same=0; fi
    last=$n
    sleep 0.1
  done
}
settle

# --- garbage and truncated values: counted misses, the right vector all the same
before=$(keys)
vec "$URL_A" gamma; vg=$VEC
vec "$URL_A" delta; vd=$VEC
wait_keys $(($(echo "$before" | wc -l) + 2))
new=$(comm -13 <(echo "$before") <(keys))
check "two new keys" $([ "$(echo "$new" | wc -l)" = 2 ] && echo 0 || echo 1)
for k in $new; do rc GET "$k" >/dev/null; done
K1=$(echo "$new" | sed -n 1p) K2=$(echo "$new" | sed -n 2p)
rc SET "$K1" "garbage, not a vector" >/dev/null
rc --raw GET "$K2" | head -c 40 | rc -x SET "$K2" >/dev/null
i0=$(metric "$URL_B" mnemo_cache_redis_invalid_total)
h0=$(metric "$URL_B" mnemo_cache_redis_hits_total)
vec "$URL_B" gamma delta; vgd=$VEC
check "B: 200 over garbage values" $([ "$CODE" = 200 ] && echo 0 || echo 1)
check "B: both values refused as invalid" $([ "$(metric "$URL_B" mnemo_cache_redis_invalid_total)" = $((i0 + 2)) ] && echo 0 || echo 1)
check "B: no hit from them" $([ "$(metric "$URL_B" mnemo_cache_redis_hits_total)" = "$h0" ] && echo 0 || echo 1)
check "B: computed the same vectors" $(py "import json; print(0 if json.loads('''$vgd''') == json.loads('''$vg''') + json.loads('''$vd''') else 1)")
for _ in $(seq 1 50); do [ "$(rc STRLEN "$K1")" -gt 64 ] && break; sleep 0.05; done
check "B wrote the good value back" $([ "$(rc STRLEN "$K1")" -gt 64 ] && echo 0 || echo 1)

# --- a third replica through the unix socket (redis+unix:// spelling)
replica C --cache-redis "redis+unix://$SOCK"
vec "$URL_C" "the alpha text"; vC=$VEC
check "C over the unix socket: a Redis hit, A's vector" \
  $([ "$(metric "$URL_C" mnemo_cache_redis_hits_total)" = 1 ] && [ "$vC" = "$vA" ] && echo 0 || echo 1)
stop "$PID_C"; check "C: SIGTERM, exit 0" $?

# --- Redis slow (paused): answered within the timeout, counted, then back
kill -STOP "$RPID"
e0=$(metric "$URL_B" 'mnemo_cache_redis_errors_total{op="get"}')
s0=$(date +%s%N)
vec "$URL_B" "slow one"; vs=$VEC
ms=$((($(date +%s%N) - s0) / 1000000))
check "Redis paused: B still 200 ($ms ms)" $([ "$CODE" = 200 ] && [ $ms -lt 2000 ] && echo 0 || echo 1)
check "Redis paused: a get error counted" $([ "$(metric "$URL_B" 'mnemo_cache_redis_errors_total{op="get"}')" -gt "$e0" ] && echo 0 || echo 1)
check "Redis paused: B says down" $([ "$(metric "$URL_B" mnemo_cache_redis_up)" = 0 ] && echo 0 || echo 1)
kill -CONT "$RPID"
for _ in $(seq 1 100); do [ "$(metric "$URL_B" mnemo_cache_redis_up)" = 1 ] && break; sleep 0.1; done
check "Redis resumed: B reconnects by itself" $([ "$(metric "$URL_B" mnemo_cache_redis_up)" = 1 ] && echo 0 || echo 1)

# --- Redis stopped mid-test: requests answered, the same vectors, errors counted
rc SHUTDOWN NOSAVE >/dev/null 2>&1
wait "$RPID" 2>/dev/null
vec "$URL_A" "epsilon while down"; vA2=$VEC
codeA=$CODE
sk0=$(metric "$URL_B" mnemo_cache_redis_skipped_total)
vec "$URL_B" "epsilon while down"; vB2=$VEC
codeB=$CODE
check "Redis down: A and B answer 200" $([ "$codeA" = 200 ] && [ "$codeB" = 200 ] && echo 0 || echo 1)
check "Redis down: the same vector from both" $([ -n "$vA2" ] && [ "$vA2" = "$vB2" ] && echo 0 || echo 1)
vec "$URL_B" "the alpha text"; vB3=$VEC
check "Redis down: B's local cache still answers, A's vector" $([ "$CODE" = 200 ] && [ "$vB3" = "$vA" ] && echo 0 || echo 1)
errs=$(( $(metric "$URL_A" 'mnemo_cache_redis_errors_total{op="get"}') + $(metric "$URL_A" 'mnemo_cache_redis_errors_total{op="connect"}') ))
check "Redis down: A counted errors ($errs)" $([ $errs -gt 0 ] && echo 0 || echo 1)
check "Redis down: A says down" $([ "$(metric "$URL_A" mnemo_cache_redis_up)" = 0 ] && echo 0 || echo 1)
for i in 1 2 3 4 5; do vec "$URL_B" "down $i"; [ "$CODE" = 200 ] || break; done
check "Redis down: 5 more requests, 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
check "Redis down: 48 requests from 8 clients at once, all 200" $([ "$(burst "$URL_B" 48 down-burst)" = " 48 200" ] && echo 0 || echo 1)
check "Redis down: lookups skipped while backing off (not retried per request)" \
  $([ "$(metric "$URL_B" mnemo_cache_redis_skipped_total)" -ge $((sk0 + 5)) ] && echo 0 || echo 1)

# --- Redis back: both replicas reconnect by themselves, hits resume
start_redis || exit 1
for u in "$URL_A" "$URL_B"; do
  for _ in $(seq 1 100); do [ "$(metric "$u" mnemo_cache_redis_up)" = 1 ] && break; sleep 0.1; done
done
check "Redis back: A and B up again" \
  $([ "$(metric "$URL_A" mnemo_cache_redis_up)" = 1 ] && [ "$(metric "$URL_B" mnemo_cache_redis_up)" = 1 ] && echo 0 || echo 1)
check "Redis back: a reconnect counted" $([ "$(metric "$URL_A" mnemo_cache_redis_reconnects_total)" -ge 1 ] && echo 0 || echo 1)
vec "$URL_A" zeta; vz=$VEC
wait_keys 1
check "Redis back: A writes again" $?
h0=$(metric "$URL_B" mnemo_cache_redis_hits_total)
vec "$URL_B" zeta; vz2=$VEC
check "Redis back: B hits again, the same vector" \
  $([ "$(metric "$URL_B" mnemo_cache_redis_hits_total)" = $((h0 + 1)) ] && [ "$vz" = "$vz2" ] && echo 0 || echo 1)

stop "$PID_A"; check "A: SIGTERM, exit 0" $?
stop "$PID_B"; check "B: SIGTERM, exit 0" $?

# --- another model name: its own keys (a replica never takes another model's vectors)
replica O --cache-redis "$REDIS" --served-model-name other-model --cache-ttl 0
n0=$(rc DBSIZE)
vec "$URL_O" "the alpha text"
check "another model name: no hit on A's vector" \
  $([ "$CODE" = 200 ] && [ "$(metric "$URL_O" mnemo_cache_redis_hits_total)" = 0 ] &&
    [ "$(metric "$URL_O" mnemo_cache_redis_invalid_total)" = 0 ] && echo 0 || echo 1)
wait_keys $((n0 + 1))
new=$(for k in $(keys); do [ "$(rc TTL "$k")" = -1 ] && echo "$k"; done)
check "--cache-ttl 0: the value never expires (TTL -1)" $([ "$(echo "$new" | grep -c .)" = 1 ] && echo 0 || echo 1)
stop "$PID_O"

# --- a password and a database number in the URL
rc CONFIG SET requirepass 's3c:r@t' >/dev/null
rc() { redis-cli -p "$RPORT" --no-auth-warning -a 's3c:r@t' "$@"; }
replica P --cache-redis "redis://:s3c%3Ar%40t@127.0.0.1:$RPORT/1"
vec "$URL_P" "in db one"
for _ in $(seq 1 100); do [ "$(rc -n 1 DBSIZE)" -ge 1 ] && break; sleep 0.05; done
check "password + /1: Redis up, the value in database 1" \
  $([ "$CODE" = 200 ] && [ "$(metric "$URL_P" mnemo_cache_redis_up)" = 1 ] && [ "$(rc -n 1 DBSIZE)" = 1 ] && echo 0 || echo 1)
check "the settings line hides the URL's password" \
  $(grep -q 'cache-redis=(set)' "$T/P.log" && ! grep -q 's3c' "$T/P.log" && echo 0 || echo 1)
stop "$PID_P"
replica W --cache-redis "redis://:wrong@127.0.0.1:$RPORT"
vec "$URL_W" "wrong password"
check "a wrong password: 200 all the same, down, connect errors counted" \
  $([ "$CODE" = 200 ] && [ "$(metric "$URL_W" mnemo_cache_redis_up)" = 0 ] &&
    [ "$(metric "$URL_W" 'mnemo_cache_redis_errors_total{op="connect"}')" -ge 1 ] &&
    grep -q 'event=redis.down.*AUTH' "$T/W.log" && echo 0 || echo 1)
stop "$PID_W"

# --- a replica started while Redis is unreachable serves anyway
DEAD=$(free_port)
replica D --cache-redis "redis://127.0.0.1:$DEAD" --cache-redis-timeout-ms 20
vec "$URL_D" "the alpha text"; vD=$VEC
check "Redis unreachable at start: 200, the same vector" $([ "$CODE" = 200 ] && [ "$vD" = "$vA" ] && echo 0 || echo 1)
check "Redis unreachable at start: logged, down, connect errors counted" \
  $(grep -q "event=redis.down" "$T/D.log" && [ "$(metric "$URL_D" mnemo_cache_redis_up)" = 0 ] &&
    [ "$(metric "$URL_D" 'mnemo_cache_redis_errors_total{op="connect"}')" -ge 1 ] && echo 0 || echo 1)
stop "$PID_D"; check "D: SIGTERM, exit 0" $?

# --- without --cache-redis there are no Redis series
replica E
check "no --cache-redis: no Redis series in /metrics" $(curl -s "$URL_E/metrics" | grep -q mnemo_cache_redis && echo 1 || echo 0)
stop "$PID_E"
rc SHUTDOWN NOSAVE >/dev/null 2>&1; wait "$RPID" 2>/dev/null

echo "$pass passed, $fail failed"
[ $fail = 0 ]
