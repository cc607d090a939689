#!/usr/bin/env bash
# test_store_layers.sh SRC_STORE — the store's parts include in one direction
# (docs/store.md): core -> the backends' table -> backends, and the index on
# its own.
#   index/      includes only index/ and the parts below the store (core,
#               kernels): nothing of src/store outside it, no SQLite, no libpq.
#   sqlite/     its own sqlite.h, the core's backend-facing store.h and the
#               index; no libpq, nothing of postgres/, not the JSON or MCP
#               layers; calls no flow of the core (mnemo_memory_*, the sweep).
#   postgres/   its own pg.h and store.h; nothing of sqlite/ or index/, not
#               the JSON or MCP layers, no flow of the core. <sqlite3.h> only
#               in pg_migrate.c, which reads the SQLite file it copies.
#   core        (src/store/*.c, *.h) no <sqlite3.h>, no <libpq-fe.h>, no
#               header of a backend folder; index/index.h only in store.c
#               (the graph's defaults of mnemo_store_default_options).
# Then proves each rule can fail: a copy of the tree with one planted
# include (or call) at a time must be refused.
set -uo pipefail

# check DIR: prints one line per broken rule; exits 1 if any.
check() {
  local S=$1 bad=0 f
  say() { echo "FAIL: $*"; bad=1; }
  # the quoted and the <> includes of a file, one per line
  quoted() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }
  system() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$1"; }
  local n=0
  # only PATTERN WHY FILES...: every quoted include of the files matches
  # PATTERN (an extended regex); none of SYSTEM (<> includes), except in
  # the one file named by ALLOWED
  only() {
    local pat=$1 why=$2 f h
    shift 2
    for f in "$@"; do
      n=$((n + 1))
      while read -r h; do say "$f includes \"$h\": $why"; done < <(quoted "$f" | grep -vxE "$pat")
      system "$f" | grep -qxE "$SYSTEM" && [ "$(basename "$f")" != "$ALLOWED" ] &&
        say "$f includes $(system "$f" | grep -xE "$SYSTEM" | head -1)"
    done
  }
  SYSTEM='sqlite3\.h|libpq-fe\.h' ALLOWED=
  only 'index\.h|\.\./\.\./(core|kernels)/.*' "index/ includes only itself, core and kernels" \
    "$S"/index/*.[ch]
  SYSTEM='libpq-fe\.h'
  only 'sqlite\.h|\.\./store\.h|\.\./index/index\.h|\.\./\.\./(core|kernels)/.*' \
    "a backend includes only its own headers, ../store.h and the index" "$S"/sqlite/*.[ch]
  SYSTEM='sqlite3\.h' ALLOWED=pg_migrate.c # it reads the SQLite file it copies
  only 'pg\.h|\.\./store\.h|\.\./\.\./core/.*' \
    "a backend includes only its own headers and ../store.h" "$S"/postgres/*.[ch]
  # a backend calls no flow of the core (they call the backends)
  for f in "$S"/sqlite/*.[ch] "$S"/postgres/*.[ch]; do
    grep -nE '\b(mnemo_memory_[a-z_]+|mnemo_store_(sweep|open|close)|mnemo__store_json[a-z_]*|mnemo__mcp_[a-z_]+)\(' "$f" |
      sed "s|^|FAIL: $f calls a flow of the core: |" | grep . && bad=1
  done
  SYSTEM='sqlite3\.h|libpq-fe\.h' ALLOWED=
  only '[a-z_]+\.h|index/index\.h|\.\./(core|kernels)/.*' \
    "the core knows the backends by their table only" "$S"/*.[ch]
  for f in "$S"/*.[ch]; do
    quoted "$f" | grep -qx 'index/index.h' && [ "$(basename "$f")" != store.c ] &&
      say "$f includes the index (only store.c, for the defaults)"
  done
  [ "$n" -ge 20 ] || say "found only $n files under $S"
  return $bad
}

SRC=$1
check "$SRC" || exit 1
echo "store layers: every include goes one way"
fails=0
# each planted include must be caught
for plant in 'index/hnsw.c:#include "../store.h"' 'index/index.c:#include <sqlite3.h>' \
  'sqlite/read.c:#include "../store_api.h"' 'sqlite/write.c:#include <libpq-fe.h>' \
  'postgres/pg.c:#include "../sqlite/sqlite.h"' 'postgres/pg_filter.c:#include <sqlite3.h>' \
  'store_read.c:#include <sqlite3.h>' 'store_write.c:#include "index/index.h"' \
  'store_json.c:#include "postgres/pg.h"' 'sqlite/open.c:static void x(void) { mnemo_memory_add(0); }'; do
  T=$(mktemp -d)
  cp -r "$SRC/." "$T/"
  echo "${plant#*:}" >>"$T/${plant%%:*}"
  if check "$T" >/dev/null; then echo "FAIL: a planted break was not caught: $plant"; fails=1; fi
  rm -rf "$T"
done
[ $fails = 0 ] && echo "and every planted break is caught"
exit $fails
