#!/usr/bin/env bash
# test_transfer_pg.sh — SQLite -> JSON lines -> PostgreSQL -> JSON lines gives
# the same file, byte for byte, with and without vectors (a real PostgreSQL
# from tests/pg_lib.sh, the tiny model): ids, texts, metadata, scopes, times,
# expiry, prompts and history kept, the vectors used as they are (none
# embedded again) and searchable; a second import skips every id; a bad line
# fails its batch and PostgreSQL holds nothing of it.
# usage: test_transfer_pg.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/pg_lib.sh"
trap "pg_stop; cleanup" EXIT
pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
. "$(dirname "$0")/store_lib.sh"
# the two stores: sq (SQLite, in $T/src) and pg
pg() { "$MNEMO" memory "$@" --store "$PG_URL" --model "$MODEL"; }
sq() { "$MNEMO" memory "$@" --data-dir "$T/src" --model "$MODEL" 2>>"$T/sq.err"; }
field() { py "import json,sys; d=json.load(sys.stdin); print($1)"; }
sample_store sq
sq update --metadata '{"topic": "planets", "nested": {"b": 1, "a": [true, null]}}' "$A" >/dev/null
sq add --namespace N0 'Upper case sorts first in byte order' >/dev/null
check "the source store was made" $([ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] && [ -n "$E" ] && echo 0 || { cat "$T/sq.err"; echo 1; })

sq export --vectors -o "$T/sq.jsonl" >/dev/null
sq export -o "$T/sq-plain.jsonl" >/dev/null
out=$(pg import --batch 2 "$T/sq.jsonl" 2>"$T/err"); rc=$?
check "import into PostgreSQL: exit 0, 5 imported, none embedded again" $([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["re_embedded"]')" = "5 0" ] && echo 0 || { echo "  $out $(cat "$T/err")" >&2; echo 1; })
pg export --vectors -o "$T/pg.jsonl" >/dev/null
check "SQLite -> JSONL -> PostgreSQL -> JSONL: the same file" $(cmp -s "$T/sq.jsonl" "$T/pg.jsonl" && echo 0 || { diff <(cut -c1-400 "$T/sq.jsonl") <(cut -c1-400 "$T/pg.jsonl") >&2; echo 1; })
pg export >"$T/pg-plain.jsonl"
check "... and without vectors" $(cmp -s "$T/sq-plain.jsonl" "$T/pg-plain.jsonl" && echo 0 || echo 1)
check "(the comparison can fail: another file differs)" $(cmp -s "$T/sq.jsonl" "$T/sq-plain.jsonl" && echo 1 || echo 0)
out=$(pg search --namespace n2 --k 1 'Moon' 2>/dev/null)
check "the imported vectors search on PostgreSQL" $([ "$(echo "$out" | idof)" = "$C" ] && echo 0 || echo 1)
out=$(pg history "$A" 2>/dev/null)
check "the history came as it was" $([ "$(echo "$out" | field '",".join(e["event"] for e in d["data"])')" = "added,updated,updated" ] && echo 0 || echo 1)

out=$(pg import "$T/sq.jsonl" 2>"$T/err"); rc=$?
check "a second import: every id skipped, said" $([ $rc = 0 ] && [ "$(echo "$out" | field 'd["imported"], d["skipped"]["exists"]')" = "0 5" ] && grep -q "has their ids" "$T/err" && echo 0 || echo 1)

# a bad line: its batch rolled back on PostgreSQL too
pg_psql "CREATE DATABASE other" >/dev/null
OURL="postgres://postgres@127.0.0.1:$PG_PORT/other"
{ head -1 "$T/sq.jsonl"; sed -n 2p "$T/sq.jsonl" | sed 's/"text":"/"text":3,"x":"/'; tail -2 "$T/sq.jsonl"; } >"$T/bad.jsonl" # lines N0's, A (bad), C, E
out=$("$MNEMO" memory import --store "$OURL" --model "$MODEL" --batch 2 "$T/bad.jsonl" 2>"$T/err"); rc=$?
check "a bad line: exit 1, line 2 named, its batch not written, the next one is" $([ $rc = 1 ] && grep -q "line 2:" "$T/err" && [ "$(echo "$out" | field 'd["imported"], d["failed"]')" = "2 2" ] && [ "$("$PG_BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d other -c 'SELECT count(*) FROM mnemo_memories')" = 2 ] && echo 0 || { cat "$T/err" >&2; echo 1; })

# PostgreSQL -> SQLite: the same file again
"$MNEMO" memory import --data-dir "$T/back" --model "$MODEL" "$T/pg.jsonl" >/dev/null 2>&1
"$MNEMO" memory export --data-dir "$T/back" --vectors >"$T/back.jsonl"
check "PostgreSQL -> JSONL -> SQLite -> JSONL: the same file" $(cmp -s "$T/sq.jsonl" "$T/back.jsonl" && echo 0 || echo 1)
echo "$pass passed, $fail failed"
[ $fail = 0 ]
