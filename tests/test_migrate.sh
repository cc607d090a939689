#!/usr/bin/env bash
# test_migrate.sh — `mnemo migrate --from sqlite:DIR --to postgres://...`
# against a real SQLite store made with `mnemo memory` and a real PostgreSQL
# (tests/pg_lib.sh): every memory arrives with its id, text, metadata, scope,
# times and expiry, its vector unchanged (a search by the memory's own vector
# scores ~1 with no model given to migrate), and its history, deleted ids'
# too; the counts are printed; a second run is refused because the target
# holds memories, and with --force skips the ids it has; a target built with
# another model is refused naming both; a missing source is a clear error.
# usage: test_migrate.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh"
. "$(dirname "$0")/pg_lib.sh"
trap "pg_stop; cleanup" EXIT
pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
SRC=$T/src
. "$(dirname "$0")/store_lib.sh"
mem() { "$MNEMO" memory "$@" --data-dir "$SRC" --model "$MODEL" 2>>"$T/mem.err"; }
sample_store mem
check "the source store was made" $([ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] && [ -n "$D" ] && [ -n "$E" ] && echo 0 || { cat "$T/mem.err"; echo 1; })
for id in $A $B $C $E; do mem get "$id" >"$T/src.$id"; done
mem history "$A" >"$T/srchist.$A"

OUT=$("$MNEMO" migrate --from "sqlite:$SRC" --to "$PG_URL" 2>"$T/mig.err")
check "migrate: exit 0, counts 4 memories and 7 history events" $([ "$OUT" = '{"memories": 4, "skipped": 0, "history": 7}' ] && echo 0 || { echo "  got '$OUT' $(cat "$T/mig.err")" >&2; echo 1; })
pg() { "$MNEMO" memory "$@" --store "$PG_URL" --model "$MODEL" 2>>"$T/pg.err"; }
same=0
for id in $A $B $C $E; do
  pg get "$id" >"$T/pg.$id"
  cmp -s "$T/src.$id" "$T/pg.$id" || { same=1; echo "  $id: $(cat "$T/src.$id") vs $(cat "$T/pg.$id")" >&2; }
done
check "every memory reads back the same (text, metadata, scope, times, expiry, prompt)" $same
check "... the prompt among them" $(grep -q '"prompt_name":"query"' "$T/pg.$E" && echo 0 || echo 1)
pg history "$A" >"$T/pghist.$A"
check "the history reads back the same" $(cmp -s "$T/srchist.$A" "$T/pghist.$A" && echo 0 || echo 1)
pg history "$D" >"$T/pghist.$D"
check "a deleted memory's history came too" $(py "import json; d=json.load(open('$T/pghist.$D')); print([e['event'] for e in d['data']])" | grep -q "'added', 'deleted'" && echo 0 || echo 1)
# the vector came unchanged: the document embedding of C's text finds C with score ~1
VEC=$("$MNEMO" embed --model "$MODEL" --prompt document 'The Moon orbits the Earth' 2>/dev/null)
pg search --request '{"vector": '"$VEC"', "k": 1, "namespace": "n2"}' >"$T/s"
check "vectors copied: a memory's own vector finds it, score ~1" $(py "import json; d=json.load(open('$T/s'))['data'][0]; print(d['id'] == '$C' and d['score'] > 0.9999)" | grep -q True && echo 0 || echo 1)
pg search --mode text --namespace n1 France >"$T/s"
check "text search works on the copy" $(py "import json; print(json.load(open('$T/s'))['data'][0]['id'])" | grep -q "$B" && echo 0 || echo 1)

"$MNEMO" migrate --from "sqlite:$SRC" --to "$PG_URL" >/dev/null 2>"$T/mig.err"
check "a second run: refused (exit 2), the target holds memories" $([ $? = 2 ] && grep -q "already holds 4" "$T/mig.err" && echo 0 || { cat "$T/mig.err" >&2; echo 1; })
OUT=$("$MNEMO" migrate --from "sqlite:$SRC" --to "$PG_URL" --force 2>"$T/mig.err")
check "--force: the ids it has are skipped, no history repeated" $([ "$OUT" = '{"memories": 0, "skipped": 4, "history": 0}' ] && echo 0 || { echo "  got '$OUT' $(cat "$T/mig.err")" >&2; echo 1; })
check "count after: still 2 in n1" $([ "$(pg count --namespace n1 | py 'import json,sys; print(json.load(sys.stdin)["count"])')" = 2 ] && echo 0 || echo 1)

# a target of another model: the tiny model with other prompts
OTHER=$T/other-model
cp -r "$MODEL" "$OTHER" && sed -i 's/title: none | text: /passage: /' "$OTHER/config_sentence_transformers.json"
pg_psql "CREATE DATABASE other" >/dev/null
OURL="postgres://postgres@127.0.0.1:$PG_PORT/other"
"$MNEMO" memory count --store "$OURL" --model "$OTHER" >/dev/null 2>&1
"$MNEMO" migrate --from "sqlite:$SRC" --to "$OURL" >/dev/null 2>"$T/mig.err"
check "a target built with another model: refused, naming both and the prompts" $([ $? = 2 ] && grep -q "other-model" "$T/mig.err" && grep -q "model-f32" "$T/mig.err" && grep -q prompts "$T/mig.err" && echo 0 || { cat "$T/mig.err" >&2; echo 1; })
check "... and nothing copied" $([ "$(pg_psql 'SELECT count(*) FROM mnemo_memories' 2>/dev/null)" = 4 ] && [ "$("$PG_BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d other -c 'SELECT count(*) FROM mnemo_memories')" = 0 ] && echo 0 || echo 1)
"$MNEMO" migrate --from "sqlite:$T/nothing" --to "$PG_URL" >/dev/null 2>"$T/mig.err"
check "a missing source: exit 2 naming it" $([ $? = 2 ] && grep -q "nothing" "$T/mig.err" && echo 0 || echo 1)
echo "$pass passed, $fail failed"
[ $fail = 0 ]
