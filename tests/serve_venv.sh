#!/usr/bin/env bash
# serve_venv.sh DIR — the Python venv of the HTTP client tests: the official
# `openai` client, LangChain's OpenAIEmbeddings, prometheus-client's parser and
# the `websockets` client,
# pinned, from PyPI. Made once (a stamp file names the pins); only the tests
# use it, never mnemo at run time.
set -euo pipefail
DIR=$1
PINS="openai==3.57.0 langchain-openai==1.7.4 prometheus-client==0.26.0 websockets==17.4"
if [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$PINS" ]; then exit 0; fi
rm -rf "$DIR"
python3 -m venv "$DIR"
"$DIR/bin/pip" install -q --disable-pip-version-check $PINS
echo "$PINS" >"$DIR/stamp"
