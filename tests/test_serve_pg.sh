#!/usr/bin/env bash
# test_serve_pg.sh — stateless replicas on one PostgreSQL (issue 8): two
# `mnemo serve --store postgres://...` processes; an add through replica A is
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
start a --model "$MODEL" --store "$PG_URL" --store-pool 2
A=$URL PA=$PID
start b --model "$MODEL" --store "$PG_URL" --store-pool 2
B=$URL PB=$PID
URL=$A PID=$PA; wait_ready || { echo "replica A did not start"; cat "$T/a.log"; exit 1; }
URL=$B PID=$PB; wait_ready || { echo "replica B did not start"; cat "$T/b.log"; exit 1; }

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
