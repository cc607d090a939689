#!/usr/bin/env bash
# make-gguf.sh MODEL_DIR [OUT_DIR] — converts the EmbeddingGemma folder to GGUF
# with llama.cpp's own converter (convert_hf_to_gguf.py from the
# llama-cpp-python sdist on PyPI, --sentence-transformers-dense-modules so the
# two Dense layers are kept) at f32, f16, bf16 and q8_0, into OUT_DIR (default
# ~/.cache/mnemo/gguf). For tests and benchmarks: the peer's format, made by
# the peer's tool. Idempotent: existing files are kept. Prints OUT_DIR.
# The converter's Python needs (torch, transformers, sentencepiece, ...) go in
# a venv under ~/.cache/mnemo (MNEMO_GGUF_VENV), outside the repository.
set -euo pipefail
MODEL=${1:?usage: make-gguf.sh MODEL_DIR [OUT_DIR]}
OUT=${2:-$HOME/.cache/mnemo/gguf}
VERSION=0.3.36
BASE=$HOME/.cache/mnemo
SRC=$BASE/llama-cpp-python-$VERSION
VENV=${MNEMO_GGUF_VENV:-$BASE/venv-gguf-convert}
TYPES="f32 f16 bf16 q8_0"
mkdir -p "$OUT"
missing=""
for t in $TYPES; do [ -s "$OUT/embeddinggemma-300m-$t.gguf" ] || missing="$missing $t"; done
if [ -z "$missing" ]; then echo "$OUT"; exit 0; fi
if [ ! -f "$SRC/vendor/llama.cpp/convert_hf_to_gguf.py" ]; then
  echo "make-gguf: fetching the llama-cpp-python $VERSION sdist (llama.cpp's converter)" >&2
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --no-binary :all: --disable-pip-version-check \
    -d "$tmp" "llama-cpp-python==$VERSION" >&2
  tar -xzf "$tmp"/llama_cpp_python-$VERSION.tar.gz -C "$tmp"
  rm -rf "$SRC" && mv "$tmp/llama_cpp_python-$VERSION" "$SRC" && rm -rf "$tmp"
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, transformers, sentencepiece, safetensors" 2>/dev/null; then
  echo "make-gguf: installing the converter's Python packages into $VENV (a few minutes)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check numpy sentencepiece safetensors protobuf \
    torch transformers >&2
fi
for t in $missing; do
  echo "make-gguf: converting to $t" >&2
  PYTHONPATH="$SRC/vendor/llama.cpp/gguf-py" "$VENV/bin/python" \
    "$SRC/vendor/llama.cpp/convert_hf_to_gguf.py" "$MODEL" --sentence-transformers-dense-modules \
    --outtype "$t" --outfile "$OUT/embeddinggemma-300m-$t.gguf.tmp" >"$OUT/convert-$t.log" 2>&1 ||
    { tail -20 "$OUT/convert-$t.log" >&2; exit 1; }
  mv "$OUT/embeddinggemma-300m-$t.gguf.tmp" "$OUT/embeddinggemma-300m-$t.gguf"
done
echo "$OUT"
