#!/usr/bin/env bash
# with_pg.sh — runs CMD ARGS... PG_URL with a throwaway PostgreSQL 16 +
# pgvector from pg_lib.sh (the URL appended as the last argument), then stops
# the server; CMD's exit status is the script's. If PostgreSQL cannot be
# started this fails (never a skip).
# usage: with_pg.sh CMD [ARGS...]
set -u
. "$(dirname "$0")/pg_lib.sh"
T=$(mktemp -d)
trap 'pg_stop; rm -rf "$T"' EXIT
pg_start "$T" || { echo "FAIL: PostgreSQL did not start"; exit 1; }
"$@" "$PG_URL"
