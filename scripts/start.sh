#!/usr/bin/env bash
# start.sh — the main job, from nothing on a fresh Debian 12 machine: installs
# the build dependencies, builds mnemo, gets the EmbeddingGemma-300M model, and
# runs `mnemo embed` on it: one JSON string per line in on stdin, one
# embedding (JSON array of 768 floats) per line out. Extra arguments are passed
# to mnemo embed (e.g. --prompt query, --dim 256).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
MODEL=${MNEMO_MODEL:-$(bash scripts/get-model.sh)}
echo "start.sh: model $MODEL; type a JSON string per line (Ctrl-D ends)" >&2
exec build/mnemo embed --model "$MODEL" "$@"
