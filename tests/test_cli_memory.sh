#!/usr/bin/env bash
# test_cli_memory.sh — the `mnemo memory` contract a script relies on, on the
# tiny model and a real SQLite file: add/search/get/update/list/count/history/
# delete print one JSON line each; MNEMO_DATA_DIR; bad input exits 2 with a
# message naming the problem and stores nothing; another model is refused;
# a data folder the user may not write (chmod, as an unprivileged user: root
# ignores permissions) still answers reads, and refuses writes with exit 1;
# so does a store another process has open for writing; --prompt on add/update.
# usage: test_cli_memory.sh MNEMO MODEL_DIR WORK_DIR
set -u
MNEMO=$1 MODEL=$2 WORK=$3
pass=0 fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
ok() { [ "$1" ] && echo 0 || echo 1; }
mkdir -p "$WORK"
T=$(mktemp -d -p "$WORK"); trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/store
mem() { "$MNEMO" memory "$@" --data-dir "$D" --model "$MODEL" --no-cache; }
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

out=$(mem add --metadata '{"topic": "food"}' 'I like figs' 'Olives are too salty'); rc=$?
check "add: exit 0, two ids in order" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | jq_ 'len(d["data"])')" = 2 ] && echo y)")
id1=$(echo "$out" | jq_ 'd["data"][0]["id"]')
id2=$(echo "$out" | jq_ 'd["data"][1]["id"]')
out=$(mem add 'I like figs')
check "add: an exact repeat gives the same id" $(ok "$([ "$(echo "$out" | jq_ 'd["data"][0]["id"]')" = "$id1" ] && [ "$(echo "$out" | jq_ 'd["data"][0]["event"]')" = duplicate ] && echo y)")

out=$(mem search --k 2 'figs')
check "search: k results with scores" $(ok "$([ "$(echo "$out" | jq_ 'len(d["data"])')" = 2 ] && echo "$out" | grep -q '"score"' && echo y)")
out=$(mem search --mode text 'salty')
check "search --mode text" $(ok "$([ "$(echo "$out" | jq_ 'd["data"][0]["id"]')" = "$id2" ] && echo y)")
out=$(mem search --filter '{"topic": {"$ne": "food"}}' 'figs')
check "search --filter" $(ok "$([ "$(echo "$out" | jq_ 'len(d["data"])')" = 0 ] && echo y)")

out=$(MNEMO_DATA_DIR=$D "$MNEMO" memory get "$id1")
check "get by MNEMO_DATA_DIR, no model needed" $(ok "$([ "$(echo "$out" | jq_ 'd["text"]')" = "I like figs" ] && echo y)")
out=$(mem update "$id1" --text 'I love figs' --metadata '{"topic": "fruit"}')
check "update" $(ok "$([ "$(echo "$out" | jq_ 'd["text"]+d["metadata"]["topic"]')" = "I love figsfruit" ] && echo y)")
out=$(mem list --limit 1); c=$(echo "$out" | jq_ 'd["next_cursor"]')
out2=$(mem list --limit 1 --cursor "$c")
check "list pages with a cursor" $(ok "$([ "$(echo "$out" | jq_ 'd["data"][0]["id"]')" = "$id1" ] && [ "$(echo "$out2" | jq_ 'd["data"][0]["id"]')" = "$id2" ] && [ "$(echo "$out2" | jq_ 'd["next_cursor"]')" = None ] && echo y)")
check "count, count --filter" $(ok "$([ "$(mem count | jq_ 'd["count"]')" = 2 ] && [ "$(mem count --filter '{"topic": "fruit"}' | jq_ 'd["count"]')" = 1 ] && echo y)")
out=$(mem history "$id1")
check "history: added, updated" $(ok "$([ "$(echo "$out" | jq_ '",".join(e["event"] for e in d["data"])')" = "added,updated" ] && echo y)")

# bad input: exit 2, the problem named, nothing stored
bad() { # name word args...
  local name=$1 word=$2; shift 2
  "$MNEMO" memory "$@" --data-dir "$D" --model "$MODEL" --no-cache >/dev/null 2>"$T/err"; local rc=$?
  check "$name: exit 2 naming '$word'" $(ok "$([ $rc = 2 ] && grep -q -- "$word" "$T/err" && echo y)")
}
bad "metadata not an object" "metadata" add --metadata '[1]' 'x'
bad "metadata not JSON" "metadata" add --metadata '{' 'x'
bad "k out of range" "k:" search --k 0 'x'
bad "bad filter operator" '$regex' search --filter '{"a": {"$regex": "x"}}' 'x'
bad "bad mode" "mode" search --mode fuzzy 'x'
bad "invalid UTF-8" "UTF-8" add $'bad \xff'
bad "unknown field" "colour" add --request '{"text": "x", "colour": 1}'
bad "unknown operation" "frob" frob
bad "bad --index-vectors" "index-vectors" count --index-vectors int4
check "nothing stored by the bad input" $(ok "$([ "$(mem count | jq_ 'd["count"]')" = 2 ] && echo y)")
out=$(mem search --index-vectors int8 --exact --k 2 'figs'); rc=$?
check "search with int8 index vectors: the same two" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | jq_ 'len(d["data"])')" = 2 ] && echo y)")
out=$("$MNEMO" memory count --store postgres://nobody@127.0.0.1:1/none --index-vectors int8 2>&1); rc=$?
check "int8 index vectors on PostgreSQL: exit 2 naming --index-vectors" $(ok "$([ $rc = 2 ] && echo "$out" | grep -q -- '--index-vectors' && echo y)")
out=$(mem search --index-vectors binary --k 2 'figs'); rc=$?
check "search with binary index vectors: the same two" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | jq_ 'len(d["data"])')" = 2 ] && echo y)")
out=$("$MNEMO" memory count --store postgres://nobody@127.0.0.1:1/none --index-vectors binary 2>&1); rc=$?
check "binary index vectors on PostgreSQL: exit 2 naming --index-vectors binary" $(ok "$([ $rc = 2 ] && echo "$out" | grep -q -- '--index-vectors binary' && echo y)")
"$MNEMO" memory list >/dev/null 2>"$T/err"; rc=$?
check "no data dir: exit 2 naming --data-dir" $(ok "$([ $rc = 2 ] && grep -q -- '--data-dir' "$T/err" && echo y)")
mem get nope >/dev/null 2>"$T/err"; rc=$?
check "get of an unknown id: exit 1" $(ok "$([ $rc = 1 ] && grep -q 'no memory' "$T/err" && echo y)")

# another model: refused, both named
mkdir -p "$T/other" && cp -r "$MODEL"/. "$T/other"/ && sed -i 's/title: none | text: /passage: /' "$T/other/config_sentence_transformers.json"
"$MNEMO" memory add --data-dir "$D" --model "$T/other" --no-cache 'x' >/dev/null 2>"$T/err"; rc=$?
check "another model: refused naming both" $(ok "$([ $rc = 2 ] && grep -q "built with model 'model-f32'" "$T/err" && grep -q "model 'other'" "$T/err" && echo y)")

# while another process (here `mnemo mcp`) has the store open for writing,
# a second one reads, and refuses to write saying why
(sleep 3 | "$MNEMO" mcp --data-dir "$D" --model "$MODEL" --no-cache >/dev/null 2>&1) & bg=$!
sleep 1.5
mem add 'while another writes' >/dev/null 2>"$T/err"; rc=$?
check "second writer: exit 1 naming the other process" $(ok "$([ $rc = 1 ] && grep -q 'another process' "$T/err" && echo y)")
check "second writer: reads go on" $(ok "$([ "$(mem count 2>/dev/null | jq_ 'd["count"]')" = 2 ] && echo y)")
wait $bg

out=$(mem delete "$id2")
check "delete by id" $(ok "$([ "$(echo "$out" | jq_ 'd["deleted"]')" = True ] && [ "$(mem count | jq_ 'd["count"]')" = 1 ] && echo y)")

# --prompt NAME on add and update: the memory holds that prompt's vector (as
# `mnemo embed --prompt` gives it); an unknown name exits 2 naming the prompts
P=$T/prompted
pm() { "$MNEMO" memory "$@" --data-dir "$P" --model "$MODEL" --no-cache; }
pid=$(pm add --prompt query 'Ships need lighthouses' | jq_ 'd["data"][0]["id"]')
v=$("$MNEMO" embed --model "$MODEL" --no-cache --prompt query 'Ships need lighthouses')
out=$(pm search --request "{\"vector\": $v, \"k\": 1}")
check "add --prompt query: the query vector finds it, score ~1" $(ok "$([ "$(echo "$out" | jq_ 'd["data"][0]["id"]')" = "$pid" ] && [ "$(echo "$out" | jq_ 'd["data"][0]["score"] > 0.9999')" = True ] && [ "$(echo "$out" | jq_ 'd["data"][0]["prompt_name"]')" = query ] && echo y)")
pm update "$pid" --text 'Ships follow beacons' --prompt STS >/dev/null
v=$("$MNEMO" embed --model "$MODEL" --no-cache --prompt STS 'Ships follow beacons')
out=$(pm search --request "{\"vector\": $v, \"k\": 1}")
check "update --text --prompt STS: embedded with STS" $(ok "$([ "$(echo "$out" | jq_ 'd["data"][0]["id"]')" = "$pid" ] && [ "$(echo "$out" | jq_ 'd["data"][0]["score"] > 0.9999')" = True ] && echo y)")
pm add --prompt nope 'x' >/dev/null 2>"$T/err"; rc=$?
check "add --prompt unknown: exit 2 naming the model's prompts" $(ok "$([ $rc = 2 ] && grep -q 'prompt_name' "$T/err" && grep -q 'query, document' "$T/err" && echo y)")
check "add --prompt unknown: nothing stored" $(ok "$([ "$(pm count | jq_ 'd["count"]')" = 1 ] && echo y)")

# A data folder this user may not write: reads go on, writes fail clearly.
RO=$T/ro
if [ "$(id -u)" = 0 ]; then
  if command -v runuser >/dev/null && runuser -u nobody -- true 2>/dev/null; then
    AS="runuser -u nobody --"; mkdir -p "$RO"; chown nobody "$RO"; chmod 755 "$T"
  else
    AS=""; echo "SKIP: read-only folder (root, and no runuser/nobody)" >&2
  fi
else
  AS="env"; mkdir -p "$RO"
fi
if [ -n "$AS" ]; then
  $AS "$MNEMO" memory add --data-dir "$RO/s" --model "$MODEL" --no-cache 'kept safe' >/dev/null
  chmod 0444 "$RO/s"/*; chmod 0555 "$RO/s"
  out=$($AS "$MNEMO" memory search --data-dir "$RO/s" --model "$MODEL" --no-cache 'kept' 2>/dev/null); rc=$?
  check "read-only folder: search answers" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | jq_ 'd["data"][0]["text"]')" = "kept safe" ] && echo y)")
  $AS "$MNEMO" memory add --data-dir "$RO/s" --model "$MODEL" --no-cache 'more' >/dev/null 2>"$T/err"; rc=$?
  check "read-only folder: add exits 1 saying read-only" $(ok "$([ $rc = 1 ] && grep -q 'read-only' "$T/err" && echo y)")
  chmod 0755 "$RO/s"; chmod 0644 "$RO/s"/*
  check "read-only folder: nothing changed" $(ok "$([ "$($AS "$MNEMO" memory count --data-dir "$RO/s" | jq_ 'd["count"]')" = 1 ] && echo y)")
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
