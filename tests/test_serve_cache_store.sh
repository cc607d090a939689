#!/usr/bin/env bash
# test_serve_cache_store.sh — the memory store fills the embedding cache, over
# real HTTP: a memory added (or updated) with its text T makes an embedding
# request for T with the memory's prompt a cache hit, answered with the vector
# a server without a store computes for that request (within 1e-6) and the
# same token count; a request for T with another prompt is a miss; a text
# search's query is a hit for the query prompt; a batch of adds fills one
# entry each (TEI's /embed with prompt_name hits too); mnemo_cache_store_fills_total
# counts the vectors (the store's model check at open is not one); the
# entries reach --cache-file (a restart without a store answers T from the
# file); adds and embedding requests on several connections at once all
# fill (the sanitized builds check the locking); with --cache-mb 0 nothing is
# filled.
# usage: test_serve_cache_store.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh"
F=$T/embeddings.cache
TA="The lighthouse keeper logs every passing ship"
TB="Owls hunt mostly at night"
Q="which birds are awake at night"
BATCH=("Tides follow the moon" "Granite is an igneous rock" "Bees dance to share directions")

# req METHOD PATH JSON : body to $T/body, status in $CODE
req() {
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    --data-binary "$3" "$URL$2")
}
j() { py "import json,sys; d=json.load(open('$T/body')); print($1)"; } # a Python expression over d
# embed OUT TASK TEXT... : POST /v1/embeddings, the answer to $T/OUT
embed() {
  local out=$1 task=$2; shift 2
  req POST /v1/embeddings "$(py 'import json,sys; print(json.dumps({"input": sys.argv[2:], "task": sys.argv[1]}))' "$task" "$@")"
  cp "$T/body" "$T/$out"
}
metric() { curl -s "$URL/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
ok() { [ "$1" = "$2" ] && echo 0 || { echo "  expected $2, got '$1'" >&2; echo 1; }; }
# same A B : two /v1/embeddings answers hold the same vectors (within 1e-6)
# and the same token counts
same() { py '
import json,sys
a,b=(json.load(open(p)) for p in sys.argv[1:3])
u=[d["embedding"] for d in a["data"]]; v=[d["embedding"] for d in b["data"]]
assert len(u)==len(v)>0 and all(len(x)==len(y) for x,y in zip(u,v))
assert max(abs(p-q) for x,y in zip(u,v) for p,q in zip(x,y))<1e-6
assert a["usage"]["prompt_tokens"]==b["usage"]["prompt_tokens"], (a["usage"],b["usage"])' "$T/$1" "$T/$2"; }
# counts : hits misses fills tokens_computed, as one line
counts() {
  echo "$(metric mnemo_cache_hits_total) $(metric mnemo_cache_misses_total)" \
    "$(metric mnemo_cache_store_fills_total) $(metric mnemo_tokens_computed_total)"
}
# after BEFORE DHITS DMISSES DFILLS [COMPUTED] : the counters moved by exactly
# that; COMPUTED 0 (the default): no token computed by the model, else some
after() {
  local now
  now=$(counts)
  py '
import sys
b=[int(float(x)) for x in sys.argv[1].split()]; a=[int(float(x)) for x in sys.argv[2].split()]
got=[y-x for x,y in zip(b,a)]
got[3]=min(got[3],1)
want=[int(x) for x in sys.argv[3:7]]
assert got==want, "hits, misses, fills, tokens computed (0/1) moved by %s, not %s" % (got, want)' \
    "$1" "$now" "$2" "$3" "$4" "${5:-0}" || { echo "  $1 -> $now" >&2; return 1; }
}

# --- the reference: a server without a store (each text in its own request,
# as the store embeds one add's text)
start fresh --model "$MODEL"
wait_ready; check "fresh server ready" $?
embed ref_a.json document "$TA"; check "fresh: 200" $(ok "$CODE" 200)
embed ref_a_query.json query "$TA"
embed ref_b.json document "$TB"
embed ref_q.json query "$Q"
embed ref_batch.json document "${BATCH[@]}"
stop "$PID"; check "fresh: exit 0" $?

# store WHAT FILLS METHOD PATH JSON : a memory request, answered 200, that
# fills exactly FILLS entries (and computes nothing in the service)
store() {
  local what=$1 fills=$2 b
  b=$(counts)
  req "$3" "$4" "$5"
  check "$what: 200" $(ok "$CODE" 200)
  after "$b" 0 0 "$fills"; check "$what: $fills fill(s)" $?
}
# hits WHAT REF TASK TEXT... : embedding the texts with TASK's prompt is one
# hit each, nothing computed, with the fresh server's vectors (REF)
hits() {
  local what=$1 ref=$2 task=$3 b; shift 3
  b=$(counts)
  embed "hit_$ref" "$task" "$@"
  after "$b" $# 0 0; check "$what: $# hit(s), nothing computed" $?
  same "$ref" "hit_$ref"; check "$what: the fresh server's vectors and token counts" $?
}

# --- a server with a store and a cache file
start store --model "$MODEL" --data-dir "$T/data" --cache-file "$F"
wait_ready; check "store server ready" $?
check "no fill at start (the model check's probe is not one)" $(ok "$(metric mnemo_cache_store_fills_total)" 0)
store "add" 1 POST /v1/memories "{\"text\": \"$TA\"}"
ID=$(j 'd["data"][0]["id"]')
hits "embed the memory's text with its prompt" ref_a.json document "$TA"
B=$(counts)
embed miss_a.json query "$TA"
after "$B" 0 1 0 1; check "the same text with the query prompt: a miss, computed" $?
same ref_a_query.json miss_a.json; check "  ... with the query prompt's vector" $?

# an update that changes the text fills the new one; one of the metadata does not
store "update of the text" 1 PATCH "/v1/memories/$ID" "{\"text\": \"$TB\"}"
hits "embed the updated text" ref_b.json document "$TB"
store "update of the metadata only" 0 PATCH "/v1/memories/$ID" '{"metadata": {"k": 1}}'

# a text search embeds its query with the query prompt
store "search" 1 POST /v1/memories/search "{\"query\": \"$Q\", \"k\": 1}"
hits "embed the search's query with the query prompt" ref_q.json query "$Q"

# a batch of adds: one fill each; TEI's /embed with prompt_name hits them
store "batch add" 3 POST /v1/memories "$(py 'import json,sys; print(json.dumps({"memories": [{"text": t} for t in sys.argv[1:]]}))' "${BATCH[@]}")"
hits "embed the batch's texts" ref_batch.json document "${BATCH[@]}"
B=$(counts)
req POST /embed "$(py 'import json,sys; print(json.dumps({"inputs": sys.argv[1], "prompt_name": "document"}))' "${BATCH[1]}")"
after "$B" 1 0 0; check "TEI /embed with prompt_name document: a hit" $?
py '
import json,sys
a=json.load(open(sys.argv[1]))[0]; b=json.load(open(sys.argv[2]))["data"][1]["embedding"]
assert max(abs(x-y) for x,y in zip(a,b))<1e-6' "$T/body" "$T/ref_batch.json"
check "  ... the fresh server's vector" $?
# adds on several connections at once while embedding requests fill the
# cache too (the sanitized and ThreadSanitizer builds check the locking; a
# report there fails the exit status below)
B=$(counts)
for c in 1 2 3 4; do
  (for i in 1 2 3 4 5; do
    curl -s -o /dev/null -H 'Content-Type: application/json' \
      -d "{\"text\": \"concurrent memory $c-$i\"}" "$URL/v1/memories"
  done) &
  (for i in 1 2 3; do
    curl -s -o /dev/null -H 'Content-Type: application/json' \
      -d "{\"input\": [\"concurrent request $c-$i\", \"concurrent memory $c-$i\"], \"task\": \"document\"}" \
      "$URL/v1/embeddings"
  done) &
done
for p in $(jobs -p); do [ "$p" = "$PID" ] || wait "$p"; done # the curls, not the server
check "concurrent adds: 20 fills" \
  $(ok "$(metric mnemo_cache_store_fills_total)" "$(($(echo "$B" | cut -d' ' -f3) + 20))")
stop "$PID"; check "store server: exit 0" $?

# --- the fills reached the cache file: a server without a store answers them
start again --model "$MODEL" --cache-file "$F"
wait_ready; check "restart on the file ready" $?
hits "restart: the memory's text, from the file" ref_a.json document "$TA"
stop "$PID"

# --- no cache: nothing to fill
start nocache --model "$MODEL" --data-dir "$T/data2" --cache-mb 0
wait_ready; check "--cache-mb 0 ready" $?
store "--cache-mb 0: add" 0 POST /v1/memories "{\"text\": \"$TA\"}"
stop "$PID"

echo "serve cache store: $pass passed, $fail failed"
[ "$fail" = 0 ]
