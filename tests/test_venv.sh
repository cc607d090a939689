#!/usr/bin/env bash
# test_venv.sh DIR PIN... — a Python venv for client tests, with the pinned
# PyPI packages given (the `openai` client, LangChain, prometheus-client and
# `websockets` for the server's tests; the `mcp` SDK for mnemo mcp's). Made
# once (a stamp file names the pins); only the tests use it, never mnemo at
# run time.
set -euo pipefail
DIR=$1
shift
PINS="$*"
if [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$PINS" ]; then exit 0; fi
rm -rf "$DIR"
python3 -m venv "$DIR"
"$DIR/bin/pip" install -q --disable-pip-version-check "$@"
echo "$PINS" >"$DIR/stamp"
