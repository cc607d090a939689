#!/usr/bin/env bash
# test_cli_tokenize.sh — the `mnemo tokenize` contract a script relies on: one
# JSON line in, one line out, in order; bad lines named on stderr with `null`
# on stdout and a non-zero exit; --no-special, --pieces, --decode; folders.
# usage: test_cli_tokenize.sh MNEMO TOKENIZER_JSON
set -u
MNEMO=$1 TOK=$2
pass=0 fail=0
check() { # name, condition result
  if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi
}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

out=$(printf '"Hello world"\n""\n' | "$MNEMO" tokenize --tokenizer "$TOK"); rc=$?
check "two lines answered in order" $([ "$out" = $'[2,9259,1902,1]\n[2,1]' ] && echo 0 || echo 1)
check "exit 0" $rc

out=$(printf '"Hello world"\n' | "$MNEMO" tokenize --tokenizer "$TOK" --no-special)
check "--no-special" $([ "$out" = '[9259,1902]' ] && echo 0 || echo 1)

out=$(printf '"Hello world"\n' | "$MNEMO" tokenize --tokenizer "$TOK" --pieces)
check "--pieces" $([ "$out" = '["<bos>", "Hello", "▁world", "<eos>"]' ] && echo 0 || echo 1)

out=$(printf '[2,9259,1902,1]\n[9259, 1902]\n' | "$MNEMO" tokenize --tokenizer "$TOK" --decode)
check "--decode" $([ "$out" = $'"Hello world"\n"Hello world"' ] && echo 0 || echo 1)
out=$(printf '[2,9259,1]\n' | "$MNEMO" tokenize --tokenizer "$TOK" --decode --keep-special)
check "--decode --keep-special" $([ "$out" = '"<bos>Hello<eos>"' ] && echo 0 || echo 1)

# bad lines: not JSON, not a string, invalid UTF-8, a bad id; the others are answered
printf '"ok"\nnot json\n42\n"\xff"\n"fine"\n' > "$T/in"
out=$("$MNEMO" tokenize --tokenizer "$TOK" < "$T/in" 2> "$T/err"); rc=$?
check "bad lines: exit non-zero" $([ $rc -ne 0 ] && echo 0 || echo 1)
check "bad lines: aligned output" $([ "$(echo "$out" | sed -n 2p)" = null ] && [ "$(echo "$out" | sed -n 3p)" = null ] && [ "$(echo "$out" | sed -n 4p)" = null ] && [ "$(echo "$out" | wc -l)" = 5 ] && echo 0 || echo 1)
check "bad lines: first and last answered" $([ "$(echo "$out" | sed -n 5p)" = "$(printf '"fine"\n' | "$MNEMO" tokenize --tokenizer "$TOK")" ] && echo 0 || echo 1)
check "bad lines: line numbers on stderr" $(grep -q 'line 2:' "$T/err" && grep -q 'line 3:' "$T/err" && grep -q 'line 4: invalid UTF-8 at byte offset 1' "$T/err" && echo 0 || echo 1)
out=$(printf '[2, 99999999]\n' | "$MNEMO" tokenize --tokenizer "$TOK" --decode 2>"$T/err"); rc=$?
check "decode bad id" $([ $rc -ne 0 ] && [ "$out" = null ] && grep -q 'line 1' "$T/err" && echo 0 || echo 1)

# a model folder, MNEMO_MODEL, and text arguments
mkdir -p "$T/model" && ln -s "$(readlink -f "$TOK")" "$T/model/tokenizer.json"
out=$(MNEMO_MODEL="$T/model" "$MNEMO" tokenize "Hello world" "x")
check "MNEMO_MODEL + arguments" $([ "$(echo "$out" | head -1)" = '[2,9259,1902,1]' ] && [ "$(echo "$out" | wc -l)" = 2 ] && echo 0 || echo 1)

# errors that stop the command: no tokenizer, a broken file, a bad flag
env -u MNEMO_MODEL "$MNEMO" tokenize < /dev/null 2>"$T/err"; rc=$?
check "no tokenizer named" $([ $rc -ne 0 ] && grep -q -- '--tokenizer' "$T/err" && echo 0 || echo 1)
echo '{"model": {"type": "Unigram"}}' > "$T/bad.json"
"$MNEMO" tokenize --tokenizer "$T/bad.json" --no-cache < /dev/null 2>"$T/err"; rc=$?
check "unsupported tokenizer refused" $([ $rc -ne 0 ] && grep -q 'Unigram' "$T/err" && echo 0 || echo 1)
"$MNEMO" tokenize --tokenizer "$TOK" --frobnicate < /dev/null 2>"$T/err"; rc=$?
check "unknown flag" $([ $rc -eq 2 ] && grep -q 'frobnicate' "$T/err" && echo 0 || echo 1)

# help and version
"$MNEMO" --help | grep -q tokenize; check "--help lists tokenize" $?
"$MNEMO" help tokenize | grep -q -- '--no-special'; check "help tokenize shows flags" $?
"$MNEMO" --version | grep -q '^mnemo [0-9]'; check "--version" $?

echo "$pass passed, $fail failed"
[ $fail = 0 ]
