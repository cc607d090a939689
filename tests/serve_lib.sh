# serve_lib.sh — sourced by the `mnemo serve` test scripts (test_serve.sh,
# test_serve_memory.sh): pass/fail counting, a temporary folder removed at
# exit, and starting, waiting for and stopping servers (never a hung test: a
# server that does not stop is killed and counts as a failure). Expects
# $MNEMO (the binary); sets T, PID, PORT and URL.
pass=0 fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
py() { python3 -c "$@"; }

# start NAME ARGS... : starts a server, sets PID and PORT (waits for the
# "listening" line, up to 60 s for a loaded machine; not for the model).
start() {
  local name=$1; shift
  "$MNEMO" serve --port 0 --log-level info "$@" >"$T/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  PORT=
  for _ in $(seq 1 1200); do
    # (the log may not exist yet: the shell opens it in the child)
    PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\) .*/\1/p' "$T/$name.log" 2>/dev/null)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  URL=http://127.0.0.1:$PORT
}
wait_ready() {
  for _ in $(seq 1 1200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && return 0
    kill -0 "$PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# stop PID : SIGTERM, then its exit status; a server still running after 60 s
# is killed and counts as a failure (never a hung test).
stop() {
  kill -TERM "$1"
  for _ in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then kill -9 "$1"; wait "$1"; echo "  server $1 did not stop in 60 s" >&2; return 99; fi
  wait "$1"
}
