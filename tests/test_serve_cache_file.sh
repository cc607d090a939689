#!/usr/bin/env bash
# test_serve_cache_file.sh — `mnemo serve --cache-file` over real HTTP: a
# server that served N distinct texts is stopped (SIGTERM) and started again
# on the same file, and answers all N at its first request from the cache
# (its hit metrics; no token computed), with the vectors of a cold server;
# the file lists the most used text first; the background writer keeps the
# file current without a clean exit (SIGKILL after a write); every bad file
# is harmless: bytes flipped, truncated, another model, another precision,
# empty, a folder in its place — each time the server starts, warns, and
# answers with the cold server's vectors; --warm-budget-ms 0 loads nothing;
# --warm FILE (JSON lines and plain lines) makes those texts hits at once.
# usage: test_serve_cache_file.sh MNEMO MODEL_DIR [OTHER_MODEL_DIR]
set -u
MNEMO=$1 MODEL=$2 OTHER=${3:-}
. "$(dirname "$0")/serve_lib.sh"
N=60
F=$T/embeddings.cache

# texts.json: N distinct texts; body.json: the request for all of them
py '
import json,sys
texts=["text number %d about %s" % (i, "abcdefghij"[i % 10] * (1 + i % 7)) for i in range(int(sys.argv[1]))]
json.dump(texts, open(sys.argv[2]+"/texts.json","w"))
json.dump({"input": texts, "task": "query"}, open(sys.argv[2]+"/body.json","w"))' "$N" "$T"
embed_all() { CODE=$(curl -s -o "$T/$1" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/body.json" "$URL/v1/embeddings"); }
metric() { curl -s "$URL/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
# same A B : the two responses hold the same vectors (within 1e-6)
same() { py '
import json,sys
a=[d["embedding"] for d in json.load(open(sys.argv[1]))["data"]]
b=[d["embedding"] for d in json.load(open(sys.argv[2]))["data"]]
assert len(a)==len(b)>0 and max(abs(x-y) for u,v in zip(a,b) for x,y in zip(u,v))<1e-6' "$T/$1" "$T/$2"; }
ok() { [ "$1" = "$2" ] && echo 0 || { echo "  expected $2, got '$1'" >&2; echo 1; }; }

# --- a cold server: the reference vectors, and the file written at SIGTERM
start cold --model "$MODEL" --cache-file "$F"
wait_ready; check "cold server ready" $?
embed_all cold.json; check "cold: 200" $(ok "$CODE" 200)
# one text asked for three more times: the hottest, first in the file
HOT=$(py 'import json,sys; print(json.load(open(sys.argv[1]))[7])' "$T/texts.json")
for _ in 1 2 3; do curl -s -o /dev/null -H 'Content-Type: application/json' \
  -d '{"input":"'"$HOT"'","task":"query"}' "$URL/v1/embeddings"; done
check "cold: no warm entries" $(ok "$(metric mnemo_cache_warm_loaded)" 0)
stop "$PID"; check "cold: exit 0" $?
check "the file is written at exit" $([ -s "$F" ] && echo 0 || echo 1)
check "no temporary file left" $(ls "$T" | grep -q 'embeddings.cache.tmp' && echo 1 || echo 0)
cp "$F" "$T/good.cache"
py '
import struct,sys
d=open(sys.argv[1],"rb").read()
assert d[:8]==b"MNEMOEMB"
n,body,idl=struct.unpack_from("<QQI",d,24)
assert n==int(sys.argv[2]) and len(d)==64+idl+body, (n,len(d))
p=64+idl
kl,tok,hits=struct.unpack_from("<III",d,p)
k=d[p+32:p+32+kl]
l0=struct.unpack_from("<Q",k,0)[0]; l1=struct.unpack_from("<Q",k,8+l0)[0]
text=k[16+l0:16+l0+l1].decode()
assert text==sys.argv[3] and hits==3, (text,hits)' "$F" "$N" "$HOT"
check "the file: N entries, the most used text first with its 3 hits" $?

# --- restart: the first request is answered from the file
start warm --model "$MODEL" --cache-file "$F"
wait_ready; check "warm server ready" $?
check "warm: N entries loaded before ready" $(ok "$(metric mnemo_cache_warm_loaded)" "$N")
embed_all warm.json
check "warm: first request 200" $(ok "$CODE" 200)
check "warm: all N are hits at the first request" $(ok "$(metric mnemo_cache_hits_total)" "$N")
check "warm: all N hits from warm entries" $(ok "$(metric mnemo_cache_warm_hits_total)" "$N")
check "warm: no token computed" $(ok "$(metric mnemo_tokens_computed_total)" 0)
check "warm: file size metric" $(ok "$(metric mnemo_cache_file_bytes)" "$(stat -c %s "$F")")
same cold.json warm.json; check "warm: the cold server's vectors" $?
# the background writer: a new text, one interval, then SIGKILL (no exit write)
stop "$PID"
start bg --model "$MODEL" --cache-file "$F" --cache-file-interval 1
wait_ready
curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"input":"written in the background"}' "$URL/v1/embeddings"
sleep 2.5
kill -9 "$PID"; wait "$PID" 2>/dev/null
start bg2 --model "$MODEL" --cache-file "$F"
wait_ready
curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"input":"written in the background"}' "$URL/v1/embeddings"
check "background write survives SIGKILL: a hit after restart" $(ok "$(metric mnemo_cache_warm_hits_total)" 1)
stop "$PID"

# --- bad files: each one warned about, ignored, and the answers stay right
# bad NAME REASON_REGEX ARGS... : a server on $F as it is now
bad() {
  local name=$1 why=$2; shift 2
  start "$name" --model "$MODEL" --cache-file "$F" "$@"
  wait_ready; check "$name: starts" $?
  check "$name: warns" $(grep -q "level=warn event=cache_file.*$why" "$T/$name.log" && echo 0 || { tail -5 "$T/$name.log" >&2; echo 1; })
  embed_all "$name.json"; check "$name: 200" $(ok "$CODE" 200)
  same cold.json "$name.json"; check "$name: the cold server's vectors" $?
  stop "$PID"; check "$name: exit 0" $?
}
cp "$T/good.cache" "$F"
py 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); i=len(d)//2
for k in range(16): d[i+k]^=0x5a
open(p,"wb").write(d)' "$F"
bad flipped 'a record fails its checksum'
check "flipped: the file is rewritten whole at exit" $(cmp -s "$F" "$T/good.cache"; [ -s "$F" ] && py 'import sys; assert open(sys.argv[1],"rb").read()[:8]==b"MNEMOEMB"' "$F" && echo 0 || echo 1)
cp "$T/good.cache" "$F"
py 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[70]^=1; open(p,"wb").write(d)' "$F"
bad header_flipped 'corrupt header'
cp "$T/good.cache" "$F"; truncate -s -100 "$F"
bad truncated 'truncated'
cp "$T/good.cache" "$F"; truncate -s 30 "$F"
bad truncated_header 'shorter than its header'
: >"$F"
bad empty 'empty'
# another precision of the same weights: ignored (its cold vectors differ)
cp "$T/good.cache" "$F"
start bf16 --model "$MODEL" --cache-file "$F" --precision bf16
wait_ready; check "bf16: starts" $?
check "bf16: warns: another model or precision" $(grep -q 'reason="another model or precision"' "$T/bf16.log" && echo 0 || echo 1)
check "bf16: nothing loaded" $(ok "$(metric mnemo_cache_warm_loaded)" 0)
embed_all bf16.json; stop "$PID"
"$MNEMO" embed --model "$MODEL" --precision bf16 --prompt query "$(py 'import json,sys; print(json.load(open(sys.argv[1]))[5])' "$T/texts.json")" >"$T/bf16_want" 2>/dev/null
py 'import json,sys; w=json.loads(open(sys.argv[1]).read()); g=json.load(open(sys.argv[2]))["data"][5]["embedding"]; assert max(abs(a-b) for a,b in zip(g,w))<1e-6' "$T/bf16_want" "$T/bf16.json"
check "bf16: its own vectors, not the f32 file's" $?
if [ -n "$OTHER" ]; then
  cp "$T/good.cache" "$F"
  start other --model "$OTHER" --cache-file "$F"
  wait_ready
  check "another model: warns, loads nothing" $(grep -q 'reason="another model or precision"' "$T/other.log" && [ "$(metric mnemo_cache_warm_loaded)" = 0 ] && echo 0 || echo 1)
  stop "$PID"
fi
rm -f "$F"; mkdir "$F"
bad folder 'not a regular file'
check "folder: the write at exit fails with a warning" $(grep -q 'event=cache_file.write_failed' "$T/folder.log" && echo 0 || echo 1)
rmdir "$F"

# --- the budget: 0 ms loads nothing (and says so)
cp "$T/good.cache" "$F"
start nobudget --model "$MODEL" --cache-file "$F" --warm-budget-ms 0
wait_ready
check "budget 0: nothing loaded" $(ok "$(metric mnemo_cache_warm_loaded)" 0)
check "budget 0: warns" $(grep -q 'event=cache_file.budget' "$T/nobudget.log" && echo 0 || echo 1)
stop "$PID"

# --- --warm FILE: JSON lines and plain lines are hits at the first request
printf '{"text": "warm one", "prompt_name": "query"}\n{"text": "warm two", "prompt_name": "document"}\nwarm three\n\nnot json {\n{"text": 5}\n' >"$T/warm.jsonl"
start prefetch --model "$MODEL" --warm "$T/warm.jsonl"
wait_ready
check "--warm: logged, the bad line skipped" $(grep -q 'event=warm.done.*texts=4 .*embedded=4 skipped=1' "$T/prefetch.log" && echo 0 || { grep warm "$T/prefetch.log" >&2; echo 1; })
H0=$(metric mnemo_cache_hits_total)
curl -s -o /dev/null -d '{"input":"warm one","task":"query"}' "$URL/v1/embeddings"
curl -s -o /dev/null -d '{"input":"warm two","task":"document"}' "$URL/v1/embeddings"
curl -s -o /dev/null -d '{"input":["warm three","not json {"]}' "$URL/v1/embeddings"
check "--warm: its texts are hits" $(ok "$(metric mnemo_cache_hits_total)" $((H0 + 4)))
stop "$PID"
"$MNEMO" serve --model "$MODEL" --cache-file-mb 0 >/dev/null 2>"$T/err"; rc=$?
check "--cache-file-mb 0: exit 2" $([ $rc = 2 ] && grep -q 'cache-file-mb' "$T/err" && echo 0 || echo 1)

echo "$pass passed, $fail failed"
[ $fail = 0 ]
