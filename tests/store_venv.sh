#!/usr/bin/env bash
# store_venv.sh DIR — the Python venv of the MCP test: the official `mcp` SDK
# (PyPI), pinned, as the client of `mnemo mcp`. Made once (a stamp file names
# the pins); only the tests use it, never mnemo at run time.
set -euo pipefail
DIR=$1
PINS="mcp==2.3.0"
if [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$PINS" ]; then exit 0; fi
rm -rf "$DIR"
python3 -m venv "$DIR"
"$DIR/bin/pip" install -q --disable-pip-version-check $PINS
echo "$PINS" >"$DIR/stamp"
