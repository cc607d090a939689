#!/usr/bin/env bash
# test_serve_memory.sh — the memory routes of `mnemo serve` over real HTTP with
# curl, against a real SQLite file or a real PostgreSQL server with pgvector
# (the same checks on both backends: docs/http.md's memory routes): POST
# /v1/memories (a list, and one memory's fields at the top level) answers ids in
# input order; search best first with scores, in every mode, with a filter
# applied during the search; get, PATCH (a text change re-embeds), history,
# DELETE, count, list with a cursor; a named prompt_name on add, PATCH and
# MCP (the memory holds that prompt's vector); bad input gets a 4xx in the OpenAI error
# shape naming the problem, and stores nothing; MCP over HTTP (POST /mcp);
# without --data-dir the routes say to pass it; a restart finds every memory.
# The store itself (every filter operator, TTL, dedup, SIGKILL) is test_store's.
# usage: test_serve_memory.sh MNEMO MODEL_DIR [sqlite|sqlite-int8|sqlite-binary|postgres]
# postgres: a throwaway server from tests/pg_lib.sh (a failure to start it is
# a failure of the test).
set -u
MNEMO=$1 MODEL=$2 BACKEND=${3:-sqlite}
. "$(dirname "$0")/serve_lib.sh"
DATA=$T/data
case $BACKEND in
  sqlite) STORE_ARGS=(--data-dir "$DATA") ;;
  # int8 index vectors rescored from SQLite, and the graph from 5 memories on
  sqlite-int8) STORE_ARGS=(--data-dir "$DATA" --index-vectors int8 --index-threshold 5) ;;
  # binary index vectors (a Hamming scan) rescored from SQLite; the threshold
  # is ignored: no graph (checked at the restart)
  sqlite-binary) STORE_ARGS=(--data-dir "$DATA" --index-vectors binary --index-threshold 5) ;;
  postgres)
    . "$(dirname "$0")/pg_lib.sh"
    trap 'pg_stop; cleanup' EXIT
    pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
    STORE_ARGS=(--store "$PG_URL") ;;
  *) echo "unknown backend $BACKEND (sqlite|sqlite-int8|sqlite-binary|postgres)"; exit 2 ;;
esac
# serve ARGS... : a server on the model, ready (start and wait_ready)
serve() { start serve --model "$MODEL" "$@" && wait_ready; }
# req METHOD PATH [JSON] : body to $T/body, status in $CODE
req() {
  local m=$1 path=$2
  if [ $# -ge 3 ]; then
    CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
      --data-binary "$3" "$URL$path")
  else
    CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$URL$path")
  fi
}
j() { py "import json,sys; d=json.load(open('$T/body')); print($1)"; } # a Python expression over d
# docvec TEXT : the document-prompt embedding of TEXT from /v1/embeddings, as
# JSON (a memory's own vector: searching with it must find that memory first,
# with score ~1, on any model, the random tiny one included)
# taskvec TEXT TASK : the same with another prompt (what a memory added with
# that prompt_name must hold)
taskvec() {
  curl -s -H 'Content-Type: application/json' "$URL/v1/embeddings" \
    -d "$(py 'import json,sys; print(json.dumps({"input": sys.argv[1], "task": sys.argv[2]}))' "$1" "$2")" |
    py 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"][0]["embedding"]))'
}
docvec() { taskvec "$1" document; }

serve "${STORE_ARGS[@]}" || { echo "server did not start"; cat "$T/serve.log"; exit 1; }

# --- add: a list (ids in input order), and one memory's fields at the top level
req POST /v1/memories '{"memories": [
  {"text": "Mars is the fourth planet and looks red", "metadata": {"topic": "space", "year": 2020}, "namespace": "t"},
  {"text": "Paris is the capital of France", "metadata": {"topic": "geo", "year": 2021}, "namespace": "t"},
  {"text": "The Moon orbits the Earth", "metadata": {"topic": "space", "year": 2022}, "namespace": "t", "user_id": "u1"}]}'
check "add three: 200 with three ids" $([ "$CODE" = 200 ] && [ "$(j 'len(d["data"])')" = 3 ] && echo 0 || echo 1)
ID0=$(j 'd["data"][0]["id"]') ID1=$(j 'd["data"][1]["id"]') ID2=$(j 'd["data"][2]["id"]')
check "ids differ" $([ "$ID0" != "$ID1" ] && [ "$ID1" != "$ID2" ] && echo 0 || echo 1)
req POST /v1/memories '{"text": "Venus is the hottest planet", "metadata": {"topic": "space"}, "namespace": "t"}'
check "add one at the top level" $([ "$CODE" = 200 ] && [ "$(j 'len(d["data"])')" = 1 ] && echo 0 || echo 1)
ID3=$(j 'd["data"][0]["id"]')
req POST /v1/memories '{"text": "Paris is the capital of France", "namespace": "t"}'
check "an exact repeat in the scope returns the existing id" $([ "$CODE" = 200 ] && [ "$(j 'd["data"][0]["id"]')" = "$ID1" ] && echo 0 || echo 1)

# --- search: best first, scores descending, the scope and a filter during search
req POST /v1/memories/search '{"vector": '"$(docvec "Paris is the capital of France")"', "k": 4, "namespace": "t"}'
check "search by a memory's vector: it first, score ~1" $([ "$CODE" = 200 ] && [ "$(j 'd["data"][0]["id"]')" = "$ID1" ] && [ "$(j 'd["data"][0]["score"] > 0.9999')" = True ] && echo 0 || echo 1)
req POST /v1/memories/search '{"query": "Paris is the capital of France", "k": 4, "namespace": "t"}'
check "search by query text: 200, 4 results" $([ "$CODE" = 200 ] && [ "$(j 'len(d["data"])')" = 4 ] && echo 0 || echo 1)
check "search: scores best first" $(j 'all(a["score"] >= b["score"] for a, b in zip(d["data"], d["data"][1:]))' | grep -q True && echo 0 || echo 1)
check "search: rows carry text and metadata" $(j 'd["data"][0]["text"] == "Paris is the capital of France" and d["data"][0]["metadata"]["topic"] == "geo"' | grep -q True && echo 0 || echo 1)
req POST /v1/memories/search '{"query": "Paris is the capital of France", "k": 2, "namespace": "t", "filter": {"topic": "space", "year": {"$gte": 2021}}}'
check "filtered search: only matches, k of them when k exist" $([ "$CODE" = 200 ] && [ "$(j 'sorted(r["id"] for r in d["data"]) == sorted(["'"$ID2"'"])')" = True ] && echo 0 || echo 1)
for mode in vector text hybrid; do
  req POST /v1/memories/search '{"query": "capital France", "k": 3, "namespace": "t", "mode": "'$mode'"}'
  check "search mode $mode: 200, results" $([ "$CODE" = 200 ] && [ "$(j 'len(d["data"]) >= 1')" = True ] && echo 0 || echo 1)
done
req POST /v1/memories/search '{"query": "capital France", "k": 3, "namespace": "t", "mode": "text"}'
check "text mode finds the words" $([ "$(j 'd["data"][0]["id"]')" = "$ID1" ] && echo 0 || echo 1)
req POST /v1/memories/search '{"query": "planet", "k": 5, "namespace": "t", "user_id": "u1"}'
check "scope: user_id narrows the search" $([ "$(j '[r["id"] for r in d["data"]]')" = "['$ID2']" ] && echo 0 || echo 1)

# --- get, update (re-embeds), history, delete, count, list with a cursor
req GET /v1/memories/$ID0
check "get by id" $([ "$CODE" = 200 ] && j 'd' | grep -q "fourth planet" && echo 0 || echo 1)
req PATCH /v1/memories/$ID0 '{"text": "Jupiter is the largest planet"}'
check "PATCH the text: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
req POST /v1/memories/search '{"vector": '"$(docvec "Jupiter is the largest planet")"', "k": 1, "namespace": "t"}'
check "a text change re-embeds: the new text's vector finds it" $([ "$(j 'd["data"][0]["id"]')" = "$ID0" ] && [ "$(j 'd["data"][0]["score"] > 0.9999')" = True ] && echo 0 || echo 1)
req GET /v1/memories/$ID0/history
check "history: added, then updated" $([ "$CODE" = 200 ] && j 'd' | grep -q added && j 'd' | grep -q updated && echo 0 || echo 1)
req DELETE /v1/memories/$ID3
check "DELETE: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
req GET /v1/memories/$ID3
check "a deleted memory: 404 in the error shape" $([ "$CODE" = 404 ] && j 'd["error"]["message"]' >/dev/null 2>&1 && echo 0 || echo 1)
req GET "/v1/memories/count?namespace=t"
check "count: 3 left" $([ "$CODE" = 200 ] && [ "$(j 'd["count"]')" = 3 ] && echo 0 || echo 1)
req GET "/v1/memories?namespace=t&limit=2"
check "list: a page of 2 and a cursor" $([ "$CODE" = 200 ] && [ "$(j 'len(d["data"])')" = 2 ] && echo 0 || echo 1)
CURSOR=$(j 'd.get("next_cursor") or d.get("cursor") or ""')
req GET "/v1/memories?namespace=t&limit=2&cursor=$CURSOR"
check "list: the next page holds the rest" $([ -n "$CURSOR" ] && [ "$CODE" = 200 ] && [ "$(j 'len(d["data"])')" = 1 ] && echo 0 || echo 1)

# --- bad input: a 4xx that names the problem, nothing stored
bad() { # NAME METHOD PATH JSON STATUS WORD
  req "$2" "$3" "$4"
  local ok=1
  [ "$CODE" = "$5" ] && j 'd["error"]["message"]' 2>/dev/null | grep -qi -- "$6" && ok=0
  [ $ok = 0 ] || echo "  $1: got $CODE $(head -c 300 "$T/body")" >&2
  check "$1" $ok
}
bad "unknown field" POST /v1/memories '{"text": "x", "colour": "red"}' 400 colour
bad "metadata not an object" POST /v1/memories '{"text": "x", "metadata": [1]}' 400 metadata
bad "empty text" POST /v1/memories '{"text": ""}' 400 text
bad "bad filter operator" POST /v1/memories/search '{"query": "x", "filter": {"year": {"$near": 1}}}' 400 near
bad "k out of range" POST /v1/memories/search '{"query": "x", "k": 100000}' 400 "k"
bad "unknown mode" POST /v1/memories/search '{"query": "x", "mode": "fuzzy"}' 400 mode
bad "not JSON" POST /v1/memories '{"text": ' 400 json
printf '{"text": "caf\xe9"}' >"$T/latin1"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/latin1" "$URL/v1/memories")
check "invalid UTF-8: 400" $([ "$CODE" = 400 ] && echo 0 || echo 1)
bad "delete with filter null (not {}: it would empty the scope)" POST /v1/memories/delete '{"filter": null, "namespace": "t"}' 400 filter
# a field name cut in the error's param must stay valid UTF-8 (schemathesis found this)
req POST /v1/memories "{\"text\": \"x\", \"$(printf 'é%.0s' $(seq 40))\": 1}"
check "a long non-ASCII unknown field: 400, valid UTF-8 JSON" $([ "$CODE" = 400 ] && py "import json; json.loads(open('$T/body','rb').read().decode('utf-8'))" && echo 0 || echo 1)
CODE=$(curl -s -o /dev/null -D "$T/headers" -w '%{http_code}' -X TRACE "$URL/v1/memories/$ID0")
check "405 names the methods in Allow" $([ "$CODE" = 405 ] && grep -qi '^Allow: GET, PATCH, DELETE' "$T/headers" && echo 0 || echo 1)
req GET "/v1/memories/count?namespace=t"
check "bad input stored nothing" $([ "$(j 'd["count"]')" = 3 ] && echo 0 || echo 1)

# --- a named prompt: the memory holds that prompt's vector, kept on a text change
req POST /v1/memories '{"text": "Lighthouses guide ships at night", "namespace": "p", "prompt_name": "query"}'
check "add with prompt_name query: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
PID0=$(j 'd["data"][0]["id"]')
req POST /v1/memories/search '{"vector": '"$(taskvec "Lighthouses guide ships at night" query)"', "k": 1, "namespace": "p"}'
check "prompt_name query: the query vector finds it, score ~1" $([ "$(j 'd["data"][0]["id"]')" = "$PID0" ] && [ "$(j 'd["data"][0]["score"] > 0.9999')" = True ] && echo 0 || echo 1)
req POST /v1/memories/search '{"vector": '"$(docvec "Lighthouses guide ships at night")"', "k": 1, "namespace": "p"}'
check "prompt_name query: not the document vector" $([ "$(j 'd["data"][0]["score"] < 0.9999')" = True ] && echo 0 || echo 1)
req GET /v1/memories/$PID0
check "GET shows prompt_name query" $([ "$CODE" = 200 ] && [ "$(j 'd["prompt_name"]')" = query ] && echo 0 || echo 1)
req GET /v1/memories/$ID1
check "GET shows prompt_name document by default" $([ "$(j 'd["prompt_name"]')" = document ] && echo 0 || echo 1)
req PATCH /v1/memories/$PID0 '{"text": "Lighthouses warn ships of rocks"}'
req POST /v1/memories/search '{"vector": '"$(taskvec "Lighthouses warn ships of rocks" query)"', "k": 1, "namespace": "p"}'
check "PATCH text: embedded again with the memory's prompt" $([ "$(j 'd["data"][0]["id"]')" = "$PID0" ] && [ "$(j 'd["data"][0]["score"] > 0.9999')" = True ] && echo 0 || echo 1)
req PATCH /v1/memories/$PID0 '{"text": "Lighthouses are tall towers", "prompt_name": "document"}'
req POST /v1/memories/search '{"vector": '"$(docvec "Lighthouses are tall towers")"', "k": 1, "namespace": "p"}'
check "PATCH text with prompt_name: embedded with the new one" $([ "$(j 'd["data"][0]["id"]')" = "$PID0" ] && [ "$(j 'd["data"][0]["score"] > 0.9999')" = True ] && echo 0 || echo 1)
req POST /v1/memories '{"memories": [{"text": "Trams run on rails", "namespace": "p"}, {"text": "Ferries cross the bay", "namespace": "p", "prompt_name": "nope"}]}'
check "an unknown prompt_name: 400 naming the field and the model's prompts" $([ "$CODE" = 400 ] && [ "$(j 'd["error"]["param"]')" = "memories[1].prompt_name" ] && j 'd["error"]["message"]' | grep -q "query" && j 'd["error"]["message"]' | grep -q "document" && echo 0 || echo 1)
req PATCH /v1/memories/$PID0 '{"text": "never stored", "prompt_name": "nope"}'
check "PATCH with an unknown prompt_name: 400" $([ "$CODE" = 400 ] && [ "$(j 'd["error"]["param"]')" = prompt_name ] && echo 0 || echo 1)
req PATCH /v1/memories/$PID0 '{"prompt_name": "query"}'
check "PATCH prompt_name without a text: 400 saying to give the text" $([ "$CODE" = 400 ] && j 'd["error"]["message"]' | grep -q "text" && echo 0 || echo 1)
req GET "/v1/memories/count?namespace=p"
check "refused prompts stored nothing" $([ "$(j 'd["count"]')" = 1 ] && echo 0 || echo 1)
req GET /v1/memories/$PID0
check "refused PATCHes changed nothing" $([ "$(j 'd["text"]')" = "Lighthouses are tall towers" ] && [ "$(j 'd["prompt_name"]')" = document ] && echo 0 || echo 1)

# --- MCP over HTTP
req POST /mcp '{"jsonrpc": '
check "/mcp: a body that is not JSON: 400 with the JSON-RPC parse error" $([ "$CODE" = 400 ] && [ "$(j 'd["error"]["code"]')" = -32700 ] && echo 0 || echo 1)
req POST /mcp '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
check "MCP tools/list over HTTP" $([ "$CODE" = 200 ] && j '[t["name"] for t in d["result"]["tools"]]' | grep -q search && echo 0 || echo 1)
check "MCP memory_add takes prompt_name" $(j '[t for t in d["result"]["tools"] if t["name"] == "memory_add"][0]["inputSchema"]["properties"]["prompt_name"]["type"]' | grep -q string && echo 0 || echo 1)
req POST /mcp '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "memory_add", "arguments": {"text": "Canals carry boats", "namespace": "p", "prompt_name": "STS"}}}'
MID=$(j 'd["result"]["structuredContent"]["data"][0]["id"]' 2>/dev/null)
req POST /v1/memories/search '{"vector": '"$(taskvec "Canals carry boats" STS)"', "k": 1, "namespace": "p"}'
check "MCP memory_add with prompt_name STS: the STS vector finds it" $([ -n "$MID" ] && [ "$(j 'd["data"][0]["id"]')" = "$MID" ] && [ "$(j 'd["data"][0]["score"] > 0.9999')" = True ] && echo 0 || echo 1)

# --- a restart finds every memory; SIGTERM exits 0
stop "$PID"; check "SIGTERM: exit 0" $?
if [ "$BACKEND" = sqlite-binary ]; then
  # more memories than the threshold, and still no graph (none written at close)
  check "binary index vectors: the store says so, and no graph file" $(grep -q 'index_vectors=binary' "$T/serve.log" && [ ! -e "$DATA/graph.hnsw" ] && echo 0 || echo 1)
fi
serve "${STORE_ARGS[@]}" || { echo "server did not restart"; cat "$T/serve.log"; exit 1; }
req GET "/v1/memories/count?namespace=t"
check "after a restart: the same 3 memories" $([ "$(j 'd["count"]')" = 3 ] && echo 0 || echo 1)
stop "$PID"
serve
req POST /v1/memories '{"text": "x"}'
check "without --data-dir: 503 saying to pass it" $([ "$CODE" = 503 ] && j 'd["error"]["message"]' | grep -q -- "--data-dir" && echo 0 || echo 1)
stop "$PID"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
