#!/usr/bin/env bash
# run-tokenizer-bench.sh — builds mnemo, makes a venv with HF tokenizers, and
# runs bench/tokenizer_vs_hf.py. Run on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j"$(nproc)" >/dev/null
VENV=${MNEMO_BENCH_VENV:-$HOME/.cache/mnemo/venv-bench}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "tokenizers==0.22.1"
# The tokenizer.json given, else the model's own (downloaded once, ~90 s).
TOK=${1:-$(bash scripts/get-model.sh)/tokenizer.json}
exec "$VENV/bin/python" bench/tokenizer_vs_hf.py --tokenizer "$TOK"
