#!/usr/bin/env bash
# start.sh — the main job, from nothing on a fresh Debian 12 machine: installs
# the build dependencies, builds mnemo, gets the EmbeddingGemma-300M model, and
# runs `mnemo serve` on it: the HTTP embedding service (OpenAI, TEI and Ollama
# routes) on http://127.0.0.1:8080 until Ctrl-C. Extra arguments are passed to
# mnemo serve (e.g. --port 9000, --host 0.0.0.0, --api-key KEY).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
MODEL=${MNEMO_MODEL:-$(bash scripts/get-model.sh)}
echo "start.sh: serving $MODEL (Ctrl-C stops; see docs/http.md and docs/operations.md)" >&2
exec build/mnemo serve --model "$MODEL" "$@"
