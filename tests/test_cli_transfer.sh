#!/usr/bin/env bash
# test_cli_transfer.sh — `mnemo memory export` and `mnemo memory import` on the
# tiny model and real SQLite files: a store with metadata, scopes, a ttl, a
# named prompt, updates and a delete is exported (with and without vectors),
# imported into a fresh store and exported again: the same file, byte for
# byte (no field is order-free: keys in a fixed order, metadata keys sorted,
# history oldest first, memories by namespace then in the order added); the
# vectors of the store's model are used as they are, another model's (or
# none) are embedded again; a bad line fails its batch only, names its line
# and leaves the store unchanged for that batch; a second import skips the
# ids it has and says so; expired lines are skipped and counted.
# usage: test_cli_transfer.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh" # check, py, the folder T (no server here)
ok() { [ "$1" ] && echo 0 || echo 1; }
mem() { local d=$1; shift; "$MNEMO" memory "$@" --data-dir "$T/$d" --model "$MODEL" --no-cache; }
field() { py "import json,sys; d=json.load(sys.stdin); print($1)"; }

# the source store: scopes, metadata, a ttl, a prompt, updates, a delete
. "$(dirname "$0")/store_lib.sh"
sample_store "mem a"
F=$(mem a add --namespace 'ü space' --metadata '{"z": 1, "a": {"y": 2, "b": [3]}}' 'Unicode namespace' | idof)
mem a update "$A" --metadata '{"topic": "planets"}' >/dev/null
check "the source store was made" $(ok "$([ -n "$A$B$C$D$E$F" ] && [ "$(mem a count --namespace n1 | field 'd["count"]')" = 2 ] && echo y)")

# export: one line per live memory, with history; -o FILE prints the count
out=$(mem a export --vectors -o "$T/e1.jsonl"); rc=$?
check "export -o FILE: exit 0, counts 5" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["exported"]')" = 5 ] && echo y)")
check "export: 5 lines, the deleted memory not among them" $(ok "$([ "$(wc -l <"$T/e1.jsonl")" = 5 ] && ! grep -q "$D" "$T/e1.jsonl" && echo y)")
py "
import json, sys, base64
lines = [json.loads(l) for l in open('$T/e1.jsonl')]
keys = ['id', 'text', 'metadata', 'namespace', 'user_id', 'agent_id', 'session_id', 'created_at', 'updated_at', 'expires_at', 'prompt_name', 'history', 'model', 'weights', 'vector']
assert all(list(l) == keys for l in lines), [list(l) for l in lines]
assert [l['namespace'] for l in lines] == ['n1', 'n1', 'n2', 'n3', 'ü space'], [l['namespace'] for l in lines]
a = lines[0]
assert a['id'] == '$A' and a['text'] == 'Mars is the red planet' and a['user_id'] == 'u1'
assert [e['event'] for e in a['history']] == ['added', 'updated', 'updated'], a['history']
assert a['history'][0]['text'] == 'Mars looks red' and a['metadata'] == {'topic': 'planets'}
assert lines[1]['expires_at'] > lines[1]['created_at'] + 99000 and lines[0]['expires_at'] is None
assert lines[3]['prompt_name'] == 'query' and lines[2]['session_id'] == 's1'
assert list(lines[4]['metadata']) == ['a', 'z'] and list(lines[4]['metadata']['a']) == ['b', 'y']
assert all(l['model'] == 'model-f32' and len(l['weights']) == 16 for l in lines)
assert all(len(base64.b64decode(l['vector'])) == 4 * 64 for l in lines)
" 2>"$T/err"
check "export: the fields in order, namespaces in byte order, history and expiry as stored" $(ok "$([ ! -s "$T/err" ] && echo y || cat "$T/err" >&2)")
mem a export >"$T/plain.jsonl"
check "export to stdout, without --vectors: no vector, model or weights" $(ok "$([ "$(wc -l <"$T/plain.jsonl")" = 5 ] && ! grep -q '"vector"' "$T/plain.jsonl" && echo y)")
mem a export --namespace n1 --filter '{"topic": "planets"}' -o - >"$T/n1.jsonl"
check "export --namespace --filter: that scope's matching memory only" $(ok "$([ "$(wc -l <"$T/n1.jsonl")" = 1 ] && grep -q "$A" "$T/n1.jsonl" && echo y)")

# import into a fresh store, export again: the same file
out=$(mem b import "$T/e1.jsonl" 2>"$T/err"); rc=$?
check "import: exit 0, 5 imported, none embedded again" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["re_embedded"]')" = "5 0" ] && echo y)")
mem b export --vectors -o "$T/e2.jsonl" >/dev/null
check "import then export: the same file, byte for byte" $(ok "$(cmp -s "$T/e1.jsonl" "$T/e2.jsonl" && echo y || diff <(cut -c1-300 "$T/e1.jsonl") <(cut -c1-300 "$T/e2.jsonl") >&2)")
mem b export >"$T/plain2.jsonl"
check "... and without vectors too" $(ok "$(cmp -s "$T/plain.jsonl" "$T/plain2.jsonl" && echo y)")
out=$(mem b search --namespace n2 --k 1 'Moon')
check "the imported store searches: its own vectors" $(ok "$([ "$(echo "$out" | idof)" = "$C" ] && echo y)")
out=$(mem b history "$A")
check "the history came as it was" $(ok "$([ "$(echo "$out" | field '",".join(e["event"] for e in d["data"])')" = "added,updated,updated" ] && echo y)")

# a second import: every id is there, skipped and said so
out=$(mem b import "$T/e1.jsonl" 2>"$T/err"); rc=$?
check "a re-import: exit 0, 5 skipped as existing, said on stderr" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["skipped"]["exists"]')" = "0 5" ] && grep -q "have their ids\|has their ids" "$T/err" && echo y)")
check "... and nothing changed" $(ok "$(mem b export --vectors | cmp -s - "$T/e1.jsonl" && echo y)")

# another model's vectors, or none: embedded again (from stdin too)
sed 's/"model":"model-f32"/"model":"another-model"/' "$T/e1.jsonl" >"$T/other.jsonl"
out=$(mem c import "$T/other.jsonl"); rc=$?
check "vectors of another model: all 5 embedded again" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["re_embedded"]')" = "5 5" ] && echo y)")
check "... and read back as the original (the same model embeds the same)" $(ok "$(mem c export | cmp -s - "$T/plain.jsonl" && echo y)")
out=$(mem d import - <"$T/plain.jsonl"); rc=$?
check "no vectors, from stdin: all 5 embedded again" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["re_embedded"]')" = "5 5" ] && echo y)")
sed 's/"weights":"[0-9a-f]*"/"weights":"0000000000000000"/' "$T/e1.jsonl" >"$T/w.jsonl"
check "(the comparisons can fail: that file differs)" $(ok "$(cmp -s "$T/w.jsonl" "$T/e1.jsonl" || echo y)")
out=$(mem e import "$T/w.jsonl")
check "the same name with other weights: embedded again" $(ok "$([ "$(echo "$out" | field 'd["re_embedded"]')" = 5 ] && echo y)")

# a bad line fails its batch only: lines 1-2 (a batch) in, 3-4 not (3 is bad), 5 in
mapfile -t L <"$T/e1.jsonl"
{ echo "${L[0]}"; echo "${L[1]}"; echo '{"id": "0123", "text": "half a line'; echo "${L[2]}"; echo "${L[3]}"; } >"$T/bad.jsonl"
out=$(mem f import --batch 2 "$T/bad.jsonl" 2>"$T/err"); rc=$?
check "a corrupt line: exit 1, its line named with what to change" $(ok "$([ $rc = 1 ] && grep -q "bad.jsonl: line 3: not valid JSON" "$T/err" && grep -q "import the file again" "$T/err" && echo y || cat "$T/err" >&2)")
check "... the summary: 3 imported, 2 lines failed in 1 batch" $(ok "$([ "$(echo "$out" | field 'd["imported"], d["failed"], d["failed_batches"]')" = "3 2 1" ] && echo y)")
id4=$(echo "${L[2]}" | field 'd["id"]')
mem f get "$id4" >/dev/null 2>&1; rc=$?
check "... nothing of its batch was written (line 4's memory is not there)" $(ok "$([ $rc = 1 ] && [ "$(mem f count --namespace n2 | field 'd["count"]')" = 0 ] && echo y)")
# fixed, imported again: the missing ones come, the rest are skipped
out=$(mem f import --batch 2 "$T/e1.jsonl" 2>/dev/null)
check "the file fixed, imported again: 2 new, 3 skipped, then the same export" $(ok "$([ "$(echo "$out" | field 'd["imported"], d["skipped"]["exists"]')" = "2 3" ] && mem f export --vectors | cmp -s - "$T/e1.jsonl" && echo y)")

# each size and field checked, the line named; nothing of the batch written
bad() { # name word line
  printf '%s\n' "${L[0]}" "$3" >"$T/one.jsonl"
  out=$(mem g import "$T/one.jsonl" 2>"$T/err"); local rc=$?
  check "$1: exit 1, line 2 named with '$2'" $(ok "$([ $rc = 1 ] && grep -q "line 2: .*$2" "$T/err" && [ "$(echo "$out" | field 'd["imported"]')" = 0 ] && echo y || cat "$T/err" >&2)")
}
ln() { echo "${L[1]}" | py "import json,sys; d=json.load(sys.stdin); $1; print(json.dumps(d))"; }
bad "base64 not valid" "not base64" "$(ln 'd["vector"] = "!!" + d["vector"][2:]')"
bad "base64 length" "multiple of 4" "$(ln 'd["vector"] = d["vector"][:-1]')"
bad "a vector of the store's model, of another width" "the store's width is" "$(ln 'import base64; d["vector"] = base64.b64encode(b"\0" * 40).decode()')"
bad "an unknown field" "unknown field 'colour'" "$(ln 'd["colour"] = 1')"
bad "a bad id" "id: '0123' is not a memory id" "$(ln 'd["id"] = "0123"')"
bad "a bad history event" "history\[0\].event" "$(ln 'd["history"][0]["event"] = "moved"')"
bad "metadata not an object" "metadata: must be an object" "$(ln 'd["metadata"] = [1]')"
bad "not an object" "not a JSON object" '[1, 2]'
bad "text not a string" "text: missing" "$(ln 'd["text"] = 3')"
bad "a time out of range" "created_at: .* is not a Unix time" "$(ln 'd["created_at"] = -5')"
bad "an unknown prompt" "prompt_name" "$(ln 'd["prompt_name"] = "nope"; del d["vector"]')"
check "... and the store holds nothing from them" $(ok "$([ "$(mem g count --namespace n1 | field 'd["count"]')" = 0 ] && echo y)")

# expired already: skipped and counted
ln 'import time; d["expires_at"] = time.time() - 10' >"$T/exp.jsonl"
out=$(mem h import "$T/exp.jsonl" 2>"$T/err"); rc=$?
check "an expired memory: skipped, counted, said" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["skipped"]["expired"]')" = "0 1" ] && grep -q "expired already" "$T/err" && echo y)")

# usage
"$MNEMO" memory import --data-dir "$T/z" --no-cache "$T/e1.jsonl" >/dev/null 2>"$T/err"; rc=$?
check "a new store without --model: exit 2, says to pass --model" $(ok "$([ $rc = 2 ] && grep -q -- "--model" "$T/err" && echo y)")
mem b import --batch 1001 "$T/e1.jsonl" >/dev/null 2>"$T/err"; rc=$?
check "--batch out of range: exit 2 naming it" $(ok "$([ $rc = 2 ] && grep -q -- "--batch 1001" "$T/err" && echo y)")
mem b import "$T/nope.jsonl" >/dev/null 2>"$T/err"; rc=$?
check "a missing file: exit 2 naming it" $(ok "$([ $rc = 2 ] && grep -q "nope.jsonl" "$T/err" && echo y)")
mem b export extra >/dev/null 2>"$T/err"; rc=$?
check "export with an argument: exit 2" $(ok "$([ $rc = 2 ] && echo y)")
"$MNEMO" memory export --data-dir "$T/b" --no-cache --vectors >"$T/nomodel.jsonl"; rc=$?
check "export needs no model" $(ok "$([ $rc = 0 ] && cmp -s "$T/nomodel.jsonl" "$T/e1.jsonl" && echo y)")
# (the memory with the "query" prompt left out: without a model its name cannot be checked)
mem i count >/dev/null
out=$(grep -v '"prompt_name":"query"' "$T/e1.jsonl" | "$MNEMO" memory import --data-dir "$T/i" --no-cache - 2>"$T/err"); rc=$?
check "an existing store, no --model, vectors of its model: imported without embedding" $(ok "$([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["re_embedded"]')" = "4 0" ] && echo y || cat "$T/err" >&2)")

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
