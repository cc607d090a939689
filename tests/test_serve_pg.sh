#!/usr/bin/env bash
# test_serve_pg.sh — stateless replicas on one PostgreSQL and one Redis
# (the shared PostgreSQL store): two `mnemo serve --store postgres://... --cache-redis redis://...`
# processes; an embedding computed through replica A is a Redis hit on B (B's
# /metrics) with the same vector; an add through replica A is
# found by a search through replica B at once, and dedup holds across them;
# then PostgreSQL is restarted in the middle of concurrent adds: while it is
# down requests answer 503 with a message naming PostgreSQL, after it is back
# they succeed on both replicas without restarting them, and every add that
# was acknowledged (200) is there. A PostgreSQL that cannot start fails.
# usage: test_serve_pg.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/pg_lib.sh"
trap 'pg_stop; cleanup' EXIT
pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
  { echo "FAIL: redis-server and redis-cli are needed (scripts/install-deps.sh --test installs them)"; exit 1; }
RPORT=$(pg_free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$RPORT" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done
redis-cli -p "$RPORT" PING | grep -q PONG || { echo "FAIL: redis-server did not start"; cat "$T/redis.log"; exit 1; }
REDIS=redis://127.0.0.1:$RPORT
# req URL METHOD PATH [JSON] : body to $T/body, status in $CODE
req() {
  local u=$1 m=$2 path=$3
  if [ $# -ge 4 ]; then
    CODE=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
      --data-binary "$4" "$u$path")
  else
    CODE=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -X "$m" "$u$path")
  fi
}
j() { py "import json,sys; d=json.load(open('$T/body')); print($1)"; }

# both at once on an empty database without pgvector: the extension and the
# schema are made once (under an advisory lock)
pg_psql "DROP EXTENSION vector" >/dev/null
start a --model "$MODEL" --store "$PG_URL" --store-pool 2 --cache-redis "$REDIS"
A=$URL PA=$PID
start b --model "$MODEL" --store "$PG_URL" --store-pool 2 --cache-redis "$REDIS"
B=$URL PB=$PID
URL=$A PID=$PA; wait_ready || { echo "replica A did not start"; cat "$T/a.log"; exit 1; }
URL=$B PID=$PB; wait_ready || { echo "replica B did not start"; cat "$T/b.log"; exit 1; }

# --- the embedding cache shared through Redis: A computes, B hits
redis_hits() { curl -s "$1/metrics" | awk '$1 == "mnemo_cache_redis_hits_total" {print $2}'; }
EMB='{"input": "a vector computed once for both replicas"}'
req "$A" POST /v1/embeddings "$EMB"
VA=$(j 'd["data"][0]["embedding"]')
check "embedding through A: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
for _ in $(seq 1 100); do [ "$(redis-cli -p "$RPORT" DBSIZE)" -ge 1 ] && break; sleep 0.05; done
H0=$(redis_hits "$B")
req "$B" POST /v1/embeddings "$EMB"
check "the same input through B: the same vector" $([ "$CODE" = 200 ] && [ "$(j 'd["data"][0]["embedding"]')" = "$VA" ] && echo 0 || echo 1)
check "... a Redis hit in B's /metrics ($H0 -> $(redis_hits "$B"))" \
  $(py "import sys; sys.exit(0 if float('$(redis_hits "$B")') == float('${H0:-0}') + 1 else 1)" && echo 0 || echo 1)

# --- an add on A is found on B at once; dedup across replicas
req "$A" POST /v1/memories '{"text": "Saturn has rings of ice", "namespace": "r", "metadata": {"k": 1}}'
ID=$(j 'd["data"][0]["id"]')
check "add through A: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
req "$B" POST /v1/memories/search '{"query": "Saturn has rings of ice", "k": 1, "namespace": "r", "filter": {"k": 1}}'
check "search through B finds A's add at once" $([ "$CODE" = 200 ] && [ "$(j 'd["data"][0]["id"]')" = "$ID" ] && echo 0 || echo 1)
req "$B" GET "/v1/memories/$ID"
check "get through B" $([ "$CODE" = 200 ] && echo 0 || echo 1)
req "$B" POST /v1/memories '{"text": "Saturn has rings of ice", "namespace": "r"}'
check "the same text through B: A's id (dedup across replicas)" $([ "$(j 'd["data"][0]["id"]')" = "$ID" ] && echo 0 || echo 1)
req "$B" DELETE "/v1/memories/$ID"
req "$A" GET "/v1/memories/$ID"
check "deleted through B: 404 through A" $([ "$CODE" = 404 ] && echo 0 || echo 1)

# --- PostgreSQL restarted during concurrent adds through both replicas
adder() { # NAME URL : adds until $T/stop exists; acknowledged ids to $T/ack.NAME
  local i=0 code
  while [ ! -e "$T/stop" ]; do
    i=$((i + 1))
    code=$(curl -s -m 30 -o "$T/add.$1" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary '{"text": "memory '"$1"' number '"$i"'", "namespace": "f"}' "$2/v1/memories")
    if [ "$code" = 200 ]; then
      py "import json; print(json.load(open('$T/add.$1'))['data'][0]['id'])" >>"$T/ack.$1"
    else
      echo "$code" >>"$T/codes.$1"
    fi
  done
}
adder a "$A" & AD1=$!
adder b "$B" & AD2=$!
sleep 1.5
pg_stop
check "pg_ctl stop" $?
sleep 1
req "$A" POST /v1/memories '{"text": "while down", "namespace": "f"}'
check "while PostgreSQL is down: add answers 503" $([ "$CODE" = 503 ] && echo 0 || echo 1)
check "... with a message naming PostgreSQL" $(j 'd["error"]["message"]' | grep -q PostgreSQL && echo 0 || { echo "  got: $(head -c 300 "$T/body")" >&2; echo 1; })
req "$B" POST /v1/memories/search '{"query": "memory", "namespace": "f"}'
check "while down: search answers 503" $([ "$CODE" = 503 ] && echo 0 || echo 1)
req "$B" GET "/v1/memories/count?namespace=f"
check "while down: count answers 503" $([ "$CODE" = 503 ] && echo 0 || echo 1)
pg_up
check "pg_ctl start" $?
sleep 1.5
touch "$T/stop"
wait $AD1 $AD2
check "the adders saw 503s while down" $(cat "$T"/codes.* 2>/dev/null | grep -q 503 && echo 0 || echo 1)
check "... and nothing but 503 as a failure" $([ -z "$(cat "$T"/codes.* 2>/dev/null | grep -v '^503$')" ] && echo 0 || { sort "$T"/codes.* | uniq -c >&2; echo 1; })
N=$(cat "$T"/ack.* | sort -u | wc -l)
check "adds were acknowledged before and after the restart ($N)" $([ "$N" -ge 4 ] && echo 0 || echo 1)
lost=0
for id in $(cat "$T"/ack.*); do
  req "$A" GET "/v1/memories/$id"
  [ "$CODE" = 200 ] || lost=$((lost + 1))
done
check "no acknowledged add lost ($lost of $N missing)" $([ $lost = 0 ] && echo 0 || echo 1)
req "$B" GET "/v1/memories/count?namespace=f"
check "after: B counts every acknowledged add" $([ "$CODE" = 200 ] && [ "$(j 'd["count"]')" -ge "$N" ] && echo 0 || { echo "  count $(head -c 200 "$T/body") vs $N" >&2; echo 1; })
req "$A" POST /v1/memories '{"text": "after the restart", "namespace": "f"}'
check "after: adds on A succeed again" $([ "$CODE" = 200 ] && echo 0 || echo 1)
req "$B" POST /v1/memories/search '{"query": "after the restart", "k": 1, "namespace": "f"}'
check "after: B finds it" $([ "$CODE" = 200 ] && [ "$(j 'd["data"][0]["text"]')" = "after the restart" ] && echo 0 || echo 1)

stop "$PA"; check "SIGTERM A: exit 0" $?
stop "$PB"; check "SIGTERM B: exit 0" $?
echo "$pass passed, $fail failed"
[ $fail = 0 ]
