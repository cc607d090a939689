#!/usr/bin/env bash
# test_cli_embed.sh — the `mnemo embed` contract a script relies on, on the tiny
# model: one JSON string per line in, one JSON array of floats per line out, in
# order; text arguments; --prompt / --prompt-text / --dim; bad lines get `null`
# and a message naming the line, the exit status is then 1; bad options exit 2.
# usage: test_cli_embed.sh MNEMO MODEL_DIR
set -u
MNEMO=$1 MODEL=$2
pass=0 fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
floats() { awk -F, '{print NF}'; } # values per line

out=$("$MNEMO" embed --model "$MODEL" "hello world" "second text"); rc=$?
check "two arguments, two lines of 64 floats" $([ $rc = 0 ] && [ "$(echo "$out" | floats | tr '\n' ' ')" = "64 64 " ] && echo 0 || echo 1)
check "lines are JSON arrays" $(echo "$out" | grep -qv '^\[.*\]$' && echo 1 || echo 0)

printf '"hello world"\n"second text"\n' > "$T/in"
out2=$(MNEMO_MODEL="$MODEL" "$MNEMO" embed < "$T/in")
check "stdin equals arguments (MNEMO_MODEL)" $([ "$out" = "$out2" ] && echo 0 || echo 1)

a=$("$MNEMO" embed --model "$MODEL" --prompt query "hello")
b=$("$MNEMO" embed --model "$MODEL" --prompt-text "task: search result | query: " "hello")
c=$("$MNEMO" embed --model "$MODEL" "hello")
check "--prompt query = its text" $([ "$a" = "$b" ] && echo 0 || echo 1)
check "a prompt changes the vector" $([ "$a" != "$c" ] && echo 0 || echo 1)

d=$("$MNEMO" embed --model "$MODEL" --dim 16 "hello")
check "--dim 16" $([ "$(echo "$d" | floats)" = 16 ] && echo 0 || echo 1)
norm=$(echo "$d" | tr -d '[]' | awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i*$i; printf "%.4f", s}')
check "--dim output is unit length" $([ "$norm" = 1.0000 ] && echo 0 || echo 1)

printf '"ok"\nnot json\n"\xff"\n42\n"fine"\n' > "$T/bad"
out=$("$MNEMO" embed --model "$MODEL" < "$T/bad" 2>"$T/err"); rc=$?
check "bad lines: exit 1" $([ $rc = 1 ] && echo 0 || echo 1)
check "bad lines: null in place" $([ "$(echo "$out" | sed -n 2p)" = null ] && [ "$(echo "$out" | sed -n 3p)" = null ] && [ "$(echo "$out" | sed -n 4p)" = null ] && [ "$(echo "$out" | wc -l)" = 5 ] && echo 0 || echo 1)
check "bad lines: good lines answered" $([ "$(echo "$out" | sed -n 5p | floats)" = 64 ] && echo 0 || echo 1)
check "bad lines: named on stderr" $(grep -q 'line 2' "$T/err" && grep -q 'line 3: invalid UTF-8 at byte offset 1' "$T/err" && grep -q 'line 4' "$T/err" && echo 0 || echo 1)

"$MNEMO" embed --model "$MODEL" --prompt nope x >/dev/null 2>"$T/err"; rc=$?
check "unknown prompt: exit 2, names listed" $([ $rc = 2 ] && grep -q "query" "$T/err" && grep -q "nope" "$T/err" && echo 0 || echo 1)
"$MNEMO" embed --model "$MODEL" --dim 65 x >/dev/null 2>"$T/err"; rc=$?
check "--dim out of range: exit 2" $([ $rc = 2 ] && grep -q "65" "$T/err" && echo 0 || echo 1)
env -u MNEMO_MODEL "$MNEMO" embed x >/dev/null 2>"$T/err"; rc=$?
check "no model: exit 2" $([ $rc = 2 ] && grep -q -- "--model" "$T/err" && echo 0 || echo 1)
"$MNEMO" embed --model /nonexistent x >/dev/null 2>"$T/err"; rc=$?
check "missing model folder: exit 1 with the path" $([ $rc = 1 ] && grep -q "/nonexistent" "$T/err" && echo 0 || echo 1)
long=$(head -c 3000 /dev/zero | tr '\0' 'a' | sed 's/aaaa/ab c/g')
"$MNEMO" embed --model "$MODEL" --no-truncate "$long" >/dev/null 2>"$T/err"; rc=$?
check "--no-truncate refuses a long input" $([ $rc = 1 ] && grep -q "at most" "$T/err" && echo 0 || echo 1)
"$MNEMO" embed --model "$MODEL" "$long" >/dev/null 2>&1; check "a long input is truncated" $?
"$MNEMO" help embed | grep -q -- '--prompt-text'; check "help embed" $?

# The packed-weight cache is per layout: bf16 on avx512's FMA is packed in
# pairs of k, on the portable table's in rows (and the two tables differ in
# nothing else the cache's key names), so a cache one table wrote must not
# be read by the other: a misread layout gives a vector far from the right
# one. Without AVX-512, "avx512" is the CPU's best table.
cos() { awk -v a="$1" -v b="$2" 'BEGIN { gsub(/[][]/, "", a); gsub(/[][]/, "", b);
  n = split(a, x, ","); split(b, y, ","); for (i = 1; i <= n; i++) { d += x[i] * y[i];
  p += x[i] * x[i]; q += y[i] * y[i] } printf "%.6f", d / sqrt(p * q) }'; }
# Runs: portable writes its cache, avx512 writes its own, avx512 maps it.
for k in portable avx512 avx512; do
  MNEMO_KERNELS=$k "$MNEMO" embed --model "$MODEL" --precision bf16 --cache-dir "$T/wc" "hello world" > "$T/wc-$k" 2>/dev/null
done
MNEMO_KERNELS=avx512 "$MNEMO" embed --model "$MODEL" --precision bf16 --no-cache "hello world" > "$T/wc-none" 2>/dev/null
c=$(cos "$(cat "$T/wc-portable")" "$(cat "$T/wc-avx512")")
check "bf16 cache: avx512 after the portable table's cache gives the same vector (cosine $c)" \
  $(awk -v c="$c" 'BEGIN { exit !(c > 0.9999) }' && echo 0 || echo 1)
check "bf16 cache: the mapped cache gives the uncached vector" $(cmp -s "$T/wc-none" "$T/wc-avx512" && echo 0 || echo 1)
ls "$T/wc/packed/"*.mpak >/dev/null 2>&1; check "bf16 cache: written" $?

echo "$pass passed, $fail failed"
[ $fail = 0 ]
