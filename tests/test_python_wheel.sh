#!/usr/bin/env bash
# test_python_wheel.sh DIST WORK TINY — the wheel and sdist that
# test_python_venv.sh built (DIST), checked on their own: the sdist carries
# the engine's sources and not the store, server or CLI; the wheel's one
# module exports only its init function and needs none of the server's
# libraries; and the wheel, installed into a fresh venv (WORK) and imported
# from outside the repository, embeds the tiny model as sentence-transformers
# did.
set -euo pipefail
DIST=$1
WORK=$2
TINY=$3
WHEEL=$(ls "$DIST"/mnemo-*.whl)
SDIST=$(ls "$DIST"/mnemo-*.tar.gz)
echo "wheel: $(basename "$WHEEL") $(stat -c %s "$WHEEL") bytes; sdist: $(stat -c %s "$SDIST") bytes"

tar tzf "$SDIST" >"$DIST/sdist.txt"
for f in pyproject.toml CMakeLists.txt ext/_mnemo.c src/mnemo/__init__.py engine/include/mnemo.h \
  engine/cmake/sources.cmake engine/src/embed/embed.c engine/src/kernels/x86/avx512_vnni.c; do
  grep -q "^mnemo-[^/]*/$f\$" "$DIST/sdist.txt" || { echo "FAIL: the sdist lacks $f"; exit 1; }
done
if grep -E "/(src/store|src/server|src/service|src/cli)/" "$DIST/sdist.txt"; then
  echo "FAIL: the sdist carries more than the engine"
  exit 1
fi

rm -rf "$WORK"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check "$WHEEL"
SO=$(ls "$WORK"/venv/lib/python3*/site-packages/mnemo/_mnemo*.so)
EXPORTS=$(nm -D --defined-only "$SO" | awk '{print $3}')
[ "$EXPORTS" = "PyInit__mnemo" ] || { echo "FAIL: the module exports: $EXPORTS"; exit 1; }
if ldd "$SO" | grep -E "sqlite|libpq|microhttpd|hiredis"; then
  echo "FAIL: the module links a library of the store or the server"
  exit 1
fi
mkdir -p "$WORK/elsewhere"
cd "$WORK/elsewhere"
MNEMO_CACHE_DIR=$WORK/cache "$WORK/venv/bin/python" - "$TINY" "$WORK/venv" <<'PY'
import json, sys
import numpy as np
import mnemo
tiny, venv = sys.argv[1], sys.argv[2]
assert mnemo.__file__.startswith(venv), mnemo.__file__
rows = [json.loads(l) for l in open(tiny + "/goldens.jsonl", encoding="utf-8").read().split("\n") if l]
ref = np.fromfile(tiny + "/goldens-f32.f32", dtype="<f4").reshape(len(rows), -1)
m = mnemo.Model(tiny + "/model-f32", precision="f32")
idx = [i for i, r in enumerate(rows) if r["prompt"] == ""][:20]
got = m.encode([rows[i]["text"] for i in idx])
cos = (got * ref[idx]).sum(1) / np.linalg.norm(ref[idx], axis=1)
assert cos.min() >= 0.99999, cos.min()
print(f"the wheel alone: {m!r}, {len(idx)} goldens, worst cosine {cos.min():.7f}")
PY
echo "wheel ok"
