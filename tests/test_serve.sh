#!/usr/bin/env bash
# test_serve.sh — `mnemo serve` as a script relies on it, over real HTTP with
# curl against the real binary: the contract (--model, --port, $MNEMO_MODEL,
# /health 503 until loaded, then 200), every route's shape, vectors equal to
# `mnemo embed`'s for the same texts, prompt and dimension, every limit's 4xx
# with a message saying what to change, request ids and Server-Timing, API
# keys, rate limits, a full queue (429 + Retry-After), a deadline (503), a
# client that goes away, a slow client that does not hold the server, and
# SIGTERM finishing in flight and exiting 0.
# usage: test_serve.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
. "$(dirname "$0")/serve_lib.sh"
# post PATH JSON [curl args...] : body to $T/body, status in $CODE, headers to $T/headers
post() {
  local path=$1 data=$2; shift 2
  CODE=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -H 'Content-Type: application/json' \
    "$@" --data-binary "$data" "$URL$path")
}
body_has() { grep -q -- "$1" "$T/body"; }
# expect NAME PATH JSON STATUS WORD... : the status and every word in the body
expect() {
  local name=$1 path=$2 data=$3 status=$4; shift 4
  post "$path" "$data"
  local ok=0
  [ "$CODE" = "$status" ] || ok=1
  for w in "$@"; do body_has "$w" || ok=1; done
  [ $ok = 0 ] || echo "  $name: got $CODE $(head -c 300 "$T/body")" >&2
  check "$name" $ok
}

# --- the contract: $MNEMO_MODEL, /health 503 while loading, then 200
MNEMO_MODEL=$MODEL start main --load-delay-ms 700
check "server started and printed its port" $([ -n "$PORT" ] && echo 0 || echo 1)
check "/health is 503 while loading" $([ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 503 ] && echo 0 || echo 1)
post /v1/embeddings '{"input":"x"}'
check "embedding before ready: 503 with Retry-After" $([ "$CODE" = 503 ] && grep -qi '^Retry-After:' "$T/headers" && echo 0 || echo 1)
wait_ready; check "/health becomes 200" $?
check "settings printed at start" $(grep -q 'settings:.*max-batch-tokens=' "$T/main.log" && echo 0 || echo 1)
MAIN_PID=$PID

# --- vectors equal mnemo embed's (prompt, dimension, several inputs)
"$MNEMO" embed --model "$MODEL" --prompt query --dim 16 "hello world" "Which planet is known as the Red Planet?" >"$T/want" 2>/dev/null
post /v1/embeddings '{"input":["hello world","Which planet is known as the Red Planet?"],"task":"query","dimensions":16,"model":"'"$(basename "$MODEL")"'"}'
check "POST /v1/embeddings 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
py '
import json,sys
want=[json.loads(l) for l in open(sys.argv[1])]
got=json.load(open(sys.argv[2]))
assert got["object"]=="list" and got["model"] and got["usage"]["prompt_tokens"]>0
assert got["usage"]["total_tokens"]==got["usage"]["prompt_tokens"]
vs=[d["embedding"] for d in got["data"]]
assert [d["index"] for d in got["data"]]==[0,1] and all(d["object"]=="embedding" for d in got["data"])
assert len(vs)==2 and all(len(v)==16 for v in vs)
assert max(abs(a-b) for v,w in zip(vs,want) for a,b in zip(v,w)) < 1e-5
' "$T/want" "$T/body"; check "OpenAI vectors equal mnemo embed --prompt query --dim 16" $?
check "X-Request-Id and Server-Timing headers" $(grep -qi '^X-Request-Id: [0-9a-f]' "$T/headers" && grep -qi '^Server-Timing: queue;dur=.*tokenize;dur=.*inference;dur=' "$T/headers" && echo 0 || echo 1)
post /v1/embeddings '{"input":"x"}' -H 'X-Request-Id: my-id-42' -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
check "a client's X-Request-Id is kept" $(grep -qi '^X-Request-Id: my-id-42' "$T/headers" && echo 0 || echo 1)
sleep 0.1
check "traceparent and request in one log line" $(grep 'id=my-id-42' "$T/main.log" | grep -q 'route=/v1/embeddings status=200 .*tokens=.*traceparent=00-4bf92f' && echo 0 || echo 1)

"$MNEMO" embed --model "$MODEL" --prompt document "hello world" >"$T/want_doc" 2>/dev/null
post /embed '{"inputs":["hello world"],"prompt_name":"document"}'
py 'import json,sys; w=[json.loads(l) for l in open(sys.argv[1])]; g=json.load(open(sys.argv[2])); assert len(g)==1 and len(g[0])==len(w[0]); assert max(abs(a-b) for a,b in zip(g[0],w[0]))<1e-5' "$T/want_doc" "$T/body"
check "TEI /embed equals mnemo embed --prompt document" $?
post /api/embed '{"model":"'"$(basename "$MODEL")"':latest","input":["hello world"],"task":"document"}'
py 'import json,sys; w=[json.loads(l) for l in open(sys.argv[1])]; g=json.load(open(sys.argv[2])); assert g["model"] and g["prompt_eval_count"]>0; assert max(abs(a-b) for a,b in zip(g["embeddings"][0],w[0]))<1e-5' "$T/want_doc" "$T/body"
check "Ollama /api/embed equals mnemo embed" $?
post /v1/embeddings '{"input":"hello world","prompt":"title: none | text: ","encoding_format":"base64"}'
py '
import json,sys,base64,struct
w=[json.loads(l) for l in open(sys.argv[1])][0]
e=json.load(open(sys.argv[2]))["data"][0]["embedding"]; raw=base64.b64decode(e)
v=struct.unpack("<%df"%(len(raw)//4),raw); assert len(v)==len(w) and max(abs(a-b) for a,b in zip(v,w))<1e-5' "$T/want_doc" "$T/body"
check "base64 (little-endian f32) with a custom prompt text" $?

# token ids: /tokenize then embed the ids = embed the text
post /tokenize '{"inputs":"hello world"}'
IDS=$(py 'import json,sys; print(json.dumps([t["id"] for t in json.load(open(sys.argv[1]))[0]]))' "$T/body")
py 'import json,sys; t=json.load(open(sys.argv[1]))[0]; assert t[0]["special"] and t[-1]["special"] and not t[1]["special"] and t[1]["stop"]>t[1]["start"]' "$T/body"
check "TEI /tokenize shape" $?
"$MNEMO" embed --model "$MODEL" "hello world" >"$T/want_plain" 2>/dev/null
post /v1/embeddings '{"input":['"$IDS"']}'
py 'import json,sys; w=[json.loads(l) for l in open(sys.argv[1])][0]; g=json.load(open(sys.argv[2]))["data"][0]["embedding"]; assert max(abs(a-b) for a,b in zip(g,w))<1e-5' "$T/want_plain" "$T/body"
check "token-id input equals the text's vector" $?
post /decode '{"ids":'"$IDS"'}'
check "TEI /decode gives the text back" $(py 'import json,sys; assert json.load(open(sys.argv[1]))==["hello world"]' "$T/body" && echo 0 || echo 1)
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/info")
check "TEI /info" $([ "$CODE" = 200 ] && py 'import json,sys; d=json.load(open(sys.argv[1])); assert d["max_input_length"]>0 and "query" in d["prompts"] and d["model_type"]["embedding"]["pooling"]=="mean"' "$T/body" && echo 0 || echo 1)
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/models")
check "GET /v1/models" $([ "$CODE" = 200 ] && py 'import json,sys; d=json.load(open(sys.argv[1])); assert d["object"]=="list" and d["data"][0]["object"]=="model" and d["data"][0]["id"]' "$T/body" && echo 0 || echo 1)
# compressed embeddings, as sentence-transformers' quantize_embeddings defines them
post /v1/embeddings '{"input":"hello world","dimensions":24}'; cp "$T/body" "$T/q_float"
for t in ubinary binary uint8 int8; do
  post /v1/embeddings '{"input":"hello world","dimensions":24,"encoding_format":"'$t'"}'; cp "$T/body" "$T/q_$t"
done
post /embed '{"inputs":"hello world","dimensions":24,"embedding_types":["binary"]}'; cp "$T/body" "$T/q_tei_binary"
py '
import json,sys,math
d=sys.argv[1]
v=json.load(open(d+"/q_float"))["data"][0]["embedding"]
get=lambda t: json.load(open(d+"/q_"+t))["data"][0]["embedding"]
bits=[1 if x>0 else 0 for x in v]
packed=[sum(bits[8*b+k]<<(7-k) for k in range(8)) for b in range(3)]  # numpy packbits, big bit order
assert get("ubinary")==packed, (get("ubinary"),packed)
assert get("binary")==[p-128 for p in packed]
assert json.load(open(d+"/q_tei_binary"))==[[p-128 for p in packed]]
c=min(1.0,4/math.sqrt(24)); step=2*c/255
u=[min(255,max(0,math.floor((x+c)/step))) for x in v]
assert get("uint8")==u and get("int8")==[x-128 for x in u]' "$T"
check "ubinary/binary = packbits(v > 0) (- 128); uint8/int8 on the documented range; embedding_types" $?

for body in '{"inputs":"hi","embedding_types":["ubinary"],"encoding_format":9.1}' \
            '{"inputs":"hi","embedding_types":"int8","encoding_format":"float"}'; do
  post /embed "$body"
  check "TEI: embedding_types with a bad or different encoding_format: 422 ($body)" \
    $([ "$CODE" = 422 ] && grep -q encoding_format "$T/body" && echo 0 || { echo "  got $CODE $(head -c 200 "$T/body")" >&2; echo 1; })
done
post /embed '{"inputs":"hello world","dimensions":24,"embedding_types":["binary"],"encoding_format":"binary"}'
check "embedding_types and encoding_format naming the same type: 200, the same bytes" \
  $([ "$CODE" = 200 ] && cmp -s "$T/body" "$T/q_tei_binary" && echo 0 || echo 1)

# NDJSON streaming: one line per embedding (any order), then the usage line
post /v1/embeddings '{"input":["hello world","Which planet is known as the Red Planet?"],"task":"query","dimensions":16}' -H 'Accept: application/x-ndjson'
py '
import json,sys
want=[json.loads(l) for l in open(sys.argv[1])]
lines=[json.loads(l) for l in open(sys.argv[2])]
assert len(lines)==3 and lines[-1]["object"]=="usage" and lines[-1]["usage"]["prompt_tokens"]>0
got={l["index"]:l["embedding"] for l in lines[:-1]}
assert sorted(got)==[0,1]
assert max(abs(a-b) for i in got for a,b in zip(got[i],want[i]))<1e-5' "$T/want" "$T/body"
check "NDJSON stream: a line per embedding, equal to mnemo embed, then usage" $?
check "NDJSON stream: its content type" $(grep -qi '^Content-Type: application/x-ndjson' "$T/headers" && echo 0 || echo 1)

# truncation sides: Right (default) = first tokens + <eos>; TEI's Left = <bos> + last tokens
MAXLEN=$(curl -s "$URL/info" | py 'import json,sys; print(json.load(sys.stdin)["max_input_length"])')
LONG=$(py 'import sys; n=int(sys.argv[1]); print(" ".join(chr(97 + i * 7 % 26) for i in range(n + 50)))' "$MAXLEN")
post /tokenize '{"inputs":"'"$LONG"'"}'; cp "$T/body" "$T/long_tok"
post /embed '{"inputs":"'"$LONG"'","truncation_direction":"Left"}'; cp "$T/body" "$T/left"
post /embed '{"inputs":"'"$LONG"'"}'; cp "$T/body" "$T/right"
py '
import json,sys
ids=[t["id"] for t in json.load(open(sys.argv[1]+"/long_tok"))[0]]; m=int(sys.argv[2])
assert len(ids)>m
print(json.dumps({"input":[[ids[0]]+ids[len(ids)-(m-1):], ids[:m-1]+[ids[-1]]]}))' "$T" "$MAXLEN" >"$T/sides"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --data-binary @"$T/sides" "$URL/v1/embeddings")
py '
import json,sys
d=sys.argv[1]; e=[x["embedding"] for x in json.load(open(d+"/body"))["data"]]
l=json.load(open(d+"/left"))[0]; r=json.load(open(d+"/right"))[0]
assert max(abs(a-b) for a,b in zip(l,e[0]))<1e-5 and max(abs(a-b) for a,b in zip(r,e[1]))<1e-5
assert max(abs(a-b) for a,b in zip(l,r))>1e-3' "$T"
check "truncation_direction Left = <bos> + last tokens; Right = first tokens + <eos>" $?

# --- limits and bad input: each a 4xx that says what to change
expect "empty input list" /v1/embeddings '{"input":[]}' 400 "empty array" '"code":"empty_input"'
expect "empty string" /v1/embeddings '{"input":""}' 400 "empty string"
expect "wrong JSON type" /v1/embeddings '{"input":5}' 400 "must be a string or an array"
expect "mixed array" /v1/embeddings '{"input":["a",5]}' 400 "input'\[1\]"
expect "unknown model named before the input" /v1/embeddings '{"model":"x"}' 404 "does not exist"
expect "missing input (no model)" /v1/embeddings '{}' 400 "'input' is required"
expect "not JSON" /v1/embeddings 'not json' 400 "not valid JSON"
expect "not an object" /v1/embeddings '[1]' 400 "JSON object"
expect "unknown prompt name" /v1/embeddings '{"input":"x","task":"nope"}' 400 "unknown prompt name 'nope'" "query"
expect "dimension 0" /v1/embeddings '{"input":"x","dimensions":0}' 400 "must be an integer 1.."
expect "dimension too large" /v1/embeddings '{"input":"x","dimensions":100000}' 400 "dimensions"
expect "unknown model" /v1/embeddings '{"input":"x","model":"gpt-4"}' 404 "gpt-4" "model_not_found"
expect "bad encoding_format" /v1/embeddings '{"input":"x","encoding_format":"hex"}' 400 "float, base64"
expect "truncate not a bool" /v1/embeddings '{"input":"x","truncate":"yes"}' 400 "true or false"
expect "token id out of vocabulary" /v1/embeddings '{"input":[1,2,99999999]}' 400 "not in the vocabulary"
expect "prompt with token ids" /v1/embeddings '{"input":[[5,6]],"task":"query"}' 400 "cannot be applied to token ids"
expect "TEI validation is 422" /embed '{"inputs":""}' 422 '"error_type":"Validation"'
expect "TEI too long without truncate is 413" /embed "{\"inputs\":\"$(head -c 8000 /dev/zero | tr '\0' 'a' | sed 's/aaaa/a b /g')\",\"truncate\":false}" 413 "at most"
expect "Ollama unknown model" /api/embed '{"model":"llama3","input":"x"}' 404 "llama3"
printf '{"input":"\xff\xfe"}' >"$T/bad_utf8"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --data-binary @"$T/bad_utf8" "$URL/v1/embeddings")
check "invalid UTF-8: 400 naming the offset" $([ "$CODE" = 400 ] && body_has "byte offset 10" && echo 0 || echo 1)
py 'import json; print(json.dumps({"input":["x"]*129}))' >"$T/many"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --data-binary @"$T/many" "$URL/v1/embeddings")
check "129 inputs: 400 naming --max-inputs" $([ "$CODE" = 400 ] && body_has "max-inputs" && echo 0 || echo 1)
py 'import json; print(json.dumps({"input":"é"*8193}))' >"$T/chars"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --data-binary @"$T/chars" "$URL/v1/embeddings")
check "8193 characters: 400 naming --max-input-chars" $([ "$CODE" = 400 ] && body_has "8193 characters" && body_has "max-input-chars" && echo 0 || echo 1)
py 'import json; print(json.dumps({"input":"word "*1600}))' >"$T/long"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' --data-binary @"$T/long" "$URL/v1/embeddings")
check "an input over the token limit is truncated" $([ "$CODE" = 200 ] && echo 0 || echo 1)
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X DELETE "$URL/embed")
check "wrong method: 405" $([ "$CODE" = 405 ] && echo 0 || echo 1)
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/nope")
check "unknown route: 404 listing the routes" $([ "$CODE" = 404 ] && body_has "/v1/embeddings" && echo 0 || echo 1)

# a slow client (sends half a request, then nothing) does not hold others
exec 7<>/dev/tcp/127.0.0.1/"$PORT"
printf 'POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inp' >&7
post /v1/embeddings '{"input":"still served"}' --max-time 5
check "another client is served while one stalls" $([ "$CODE" = 200 ] && echo 0 || echo 1)
exec 7>&-

# metrics after all that
CODE=$(curl -s -o "$T/metrics" -w '%{http_code}' "$URL/metrics")
check "/metrics: counters and histograms" $([ "$CODE" = 200 ] && grep -q '^mnemo_requests_total{route="/v1/embeddings",status="200"}' "$T/metrics" && grep -q '^mnemo_batch_tokens_bucket{le="+Inf"}' "$T/metrics" && grep -q '^mnemo_requests_rejected_total{reason="model_not_found"}' "$T/metrics" && grep -q '^mnemo_model_load_seconds ' "$T/metrics" && echo 0 || echo 1)

# the cache: a repeat is a hit
post /v1/embeddings '{"input":"a cached text"}'; post /v1/embeddings '{"input":"a cached text"}'
curl -s "$URL/metrics" >"$T/metrics2"
check "repeated input is a cache hit" $(py 'import sys; a={l.split()[0]:float(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("mnemo_cache_hits_total")}; b={l.split()[0]:float(l.split()[1]) for l in open(sys.argv[2]) if l.startswith("mnemo_cache_hits_total")}; assert b["mnemo_cache_hits_total"]>=a["mnemo_cache_hits_total"]+1' "$T/metrics" "$T/metrics2" && echo 0 || echo 1)

# SIGTERM while a request is in flight: it is finished, exit 0
stop "$MAIN_PID"; rc=$?
check "SIGTERM: exit 0" $([ $rc = 0 ] && echo 0 || echo 1)
check "SIGTERM: stopped cleanly" $(grep -q 'mnemo serve: stopped' "$T/main.log" && echo 0 || echo 1)

# --- API keys and rate limits
printf 'first-key\n\n# a comment\nsecond-key\n' >"$T/keys"
start auth --model "$MODEL" --api-key-file "$T/keys" --rate-limit-rpm 3
wait_ready
expect "no key: 401" /v1/embeddings '{"input":"x"}' 401 "API key is required"
post /v1/embeddings '{"input":"x"}' -H 'Authorization: Bearer wrong'
check "wrong key: 401 with WWW-Authenticate" $([ "$CODE" = 401 ] && grep -qi '^WWW-Authenticate: Bearer' "$T/headers" && echo 0 || echo 1)
post /v1/embeddings '{"input":"x"}' -H 'Authorization: Bearer second-key'
check "a key from the file: 200" $([ "$CODE" = 200 ] && echo 0 || echo 1)
check "/health needs no key" $([ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && echo 0 || echo 1)
check "/metrics needs no key" $([ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")" = 200 ] && echo 0 || echo 1)
post /v1/embeddings '{"input":"x"}' -H 'Authorization: Bearer second-key'
post /v1/embeddings '{"input":"x"}' -H 'Authorization: Bearer second-key'
post /v1/embeddings '{"input":"x"}' -H 'Authorization: Bearer second-key'
check "4th request in a minute: 429 with Retry-After" $([ "$CODE" = 429 ] && grep -qi '^Retry-After: [0-9]' "$T/headers" && body_has "rate-limit-rpm" && echo 0 || echo 1)
post /v1/embeddings '{"input":"x"}' -H 'Authorization: Bearer first-key'
check "the limit is per key" $([ "$CODE" = 200 ] && echo 0 || echo 1)
stop "$PID"; check "auth server: exit 0" $?

# --- body size, per-address connection limit, timeouts of stalled clients
start limits --model "$MODEL" --max-body-kb 16 --max-connections-per-ip 8 --connection-timeout 1
wait_ready
py 'import json; print(json.dumps({"input":"word "*4000}))' >"$T/big"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/big" "$URL/v1/embeddings")
check "a body over --max-body-kb: 413 naming it" $([ "$CODE" = 413 ] && body_has "max-body-kb" && echo 0 || echo 1)
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$URL/v1/embeddings")
check "a chunked body over the limit: 413" $([ "$CODE" = 413 ] && body_has "max-body-kb" && echo 0 || echo 1)
# a client that writes its whole body before it reads (Python's http.client)
# gets the 413, not a reset, for a body well over the limit (32 MB against 16 KB:
# more than the sockets buffer), and its connection stays open
py "
import http.client, json, sys
c = http.client.HTTPConnection('127.0.0.1', $PORT, timeout=20)
c.request('POST', '/v1/embeddings', body=b'x' * (32 << 20), headers={'Content-Type': 'application/json'})
r = c.getresponse(); body = r.read(); sock = c.sock
c.request('POST', '/v1/embeddings', body=json.dumps({'input': 'after'}), headers={'Content-Type': 'application/json'})
r2 = c.getresponse(); r2.read()
sys.exit(0 if r.status == 413 and b'max-body-kb' in body and r2.status == 200 and c.sock is sock else 1)
" 2>"$T/err"
check "a 32 MB body written before reading: 413 read by the client, the connection kept" $?
for fd in 10 11 12 13 14 15 16; do
  eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
  printf 'POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"in' >&$fd
done
sleep 0.2
post /v1/embeddings '{"input":"served beside 7 stalled clients"}' --max-time 5
check "7 stalled connections: an 8th client is served" $([ "$CODE" = 200 ] && echo 0 || echo 1)
exec 17<>/dev/tcp/127.0.0.1/"$PORT"
sleep 0.2
post /v1/embeddings '{"input":"one too many"}' --max-time 2
check "the 9th connection from one address is refused (--max-connections-per-ip)" $([ "$CODE" != 200 ] && echo 0 || echo 1)
sleep 2.5 # --connection-timeout 1 closes the stalled ones
post /v1/embeddings '{"input":"after the timeout"}' --max-time 5
check "stalled connections are closed after --connection-timeout" $([ "$CODE" = 200 ] && echo 0 || echo 1)
for fd in 10 11 12 13 14 15 16 17; do eval "exec $fd>&-"; done
stop "$PID"; check "limits server: exit 0" $?

# --- overload: a long collection window keeps work queued
start slow --model "$MODEL" --batch-window-ms 1500 --max-queue-tokens 1 --timeout 1
wait_ready
curl -s -o "$T/first" -w '%{http_code}' -H 'Content-Type: application/json' -d '{"input":"queued first"}' "$URL/v1/embeddings" >"$T/first_code" &
CURL1=$!
sleep 0.3
post /v1/embeddings '{"input":"refused"}'
check "full queue: 429 at once with Retry-After" $([ "$CODE" = 429 ] && grep -qi '^Retry-After:' "$T/headers" && body_has "max-queue-tokens" && echo 0 || echo 1)
wait $CURL1
check "deadline passed while queued: 503" $([ "$(cat "$T/first_code")" = 503 ] && grep -q "deadline" "$T/first" && echo 0 || echo 1)
curl -s -m 0.3 -o /dev/null -H 'Content-Type: application/json' -d '{"input":"goes away"}' "$URL/v1/embeddings"
sleep 0.3
check "a client that goes away: logged 499, its work dropped" $(grep -q 'status=499' "$T/slow.log" && curl -s "$URL/metrics" | grep -q '^mnemo_queue_sequences 0' && echo 0 || echo 1)
stop "$PID"; check "overload server: exit 0" $?

# a deadline passed while the model runs: 504 (the real model only: the tiny
# one is done before any deadline). 16 inputs of ~2000 tokens: many seconds of
# work even on the fastest CPU here (~3,000 tokens/s), so --timeout 1 passes
# while it runs.
start deadline --model "$MODEL" --timeout 1 --batch-window-ms 0
wait_ready
MAXLEN=$(curl -s "$URL/info" | py 'import json,sys; print(json.load(sys.stdin)["max_input_length"])')
if [ "$MAXLEN" -ge 1024 ]; then
  py 'import json; print(json.dumps({"input": [str(i) + " a b" * 999 for i in range(16)]}))' >"$T/slow_input"
  CODE=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --data-binary @"$T/slow_input" "$URL/v1/embeddings")
  check "deadline passed while running: 504 with Retry-After" $([ "$CODE" = 504 ] && grep -qi '^Retry-After:' "$T/headers" && echo 0 || echo 1)
fi
stop "$PID"; check "deadline server: exit 0" $?

# --- options: bad values exit 2 with a message; help lists the flags
"$MNEMO" serve --model "$MODEL" --port 70000 >/dev/null 2>"$T/err"; rc=$?
check "--port 70000: exit 2" $([ $rc = 2 ] && grep -q "port" "$T/err" && echo 0 || echo 1)
env -u MNEMO_MODEL "$MNEMO" serve >/dev/null 2>"$T/err"; rc=$?
check "no model: exit 2" $([ $rc = 2 ] && grep -q -- "--model" "$T/err" && echo 0 || echo 1)
"$MNEMO" help serve >"$T/help"
check "help serve lists the flags" $(grep -q -- '--max-batch-tokens' "$T/help" && grep -q -- '--cache-mb' "$T/help" && grep -q 'MNEMO_API_KEY' "$T/help" && echo 0 || echo 1)

echo "$pass passed, $fail failed"
[ $fail = 0 ]
