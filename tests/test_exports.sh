#!/usr/bin/env bash
# test_exports.sh LIBMNEMO_SO MNEMO_H — libmnemo.so exports exactly the
# functions mnemo.h declares with MNEMO_API: none missing, no internal
# (mnemo__*) or other symbol beside them.
set -euo pipefail
SO=$1 HEADER=$2
exported=$(nm -D --defined-only "$SO" | awk '$2 ~ /[TtWwDdBbRr]/ {print $3}' | sort -u)
declared=$(grep -oE '^MNEMO_API [^(]*\bmnemo_[a-z0-9_]+\(' "$HEADER" | grep -oE 'mnemo_[a-z0-9_]+\($' | tr -d '(' | sort -u)
n_exp=$(echo "$exported" | grep -c . || true)
n_dec=$(echo "$declared" | grep -c . || true)
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
echo "libmnemo.so exports $n_exp symbols; mnemo.h declares $n_dec functions"
fail=0
if [ -n "$extra" ]; then echo "FAIL: exported but not in mnemo.h:"; echo "$extra" | head -20; fail=1; fi
if [ -n "$missing" ]; then echo "FAIL: in mnemo.h but not exported:"; echo "$missing"; fail=1; fi
[ "$n_dec" -ge 40 ] || { echo "FAIL: found only $n_dec declarations in $HEADER"; fail=1; }
exit $fail
