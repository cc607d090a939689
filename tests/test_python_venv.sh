#!/usr/bin/env bash
# test_python_venv.sh ROOT DIR PIN... — the venv of the Python package's
# tests (python/tests): the pinned PyPI packages given, and the mnemo package
# built ONCE by `python -m build` — an sdist, then the wheel from that sdist,
# so the sdist is shown to build on its own — into DIR/dist and installed
# from the wheel. Made again only when the pins or a file the package is
# built from changed (a stamp holds both); the pins alone keep their
# packages. Prints how long the install and the build took.
set -euo pipefail
ROOT=$1
DIR=$2
shift 2
PINS="$*"
cd "$ROOT"
SOURCES=$(find python/pyproject.toml python/CMakeLists.txt python/README.md python/ext python/src include \
  cmake/sources.cmake src/core src/tokenizer src/model src/kernels src/engine src/embed \
  -type f ! -name '*.pyc' | sort | xargs sha256sum | sha256sum | cut -c1-16)
if [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$PINS $SOURCES" ]; then
  echo "python venv up to date: $DIR"
  exit 0
fi
if [ "$(cat "$DIR/pins" 2>/dev/null)" != "$PINS" ]; then
  rm -rf "$DIR"
  python3 -m venv "$DIR"
  t0=$(date +%s)
  "$DIR/bin/pip" install -q --disable-pip-version-check "$@"
  echo "$PINS" >"$DIR/pins"
  echo "pip install $PINS: $(($(date +%s) - t0)) s"
fi
rm -rf "$DIR/dist" "$DIR/stamp"
t0=$(date +%s)
# Warnings are errors here (the package's default is not, for users'
# compilers); two jobs, as the machine is shared.
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
  "$DIR/bin/python" -m build --outdir "$DIR/dist" -C cmake.define.MNEMO_WERROR=ON python >"$DIR/build.log" 2>&1 ||
  { tail -40 "$DIR/build.log"; exit 1; }
echo "python -m build (sdist, then the wheel from it): $(($(date +%s) - t0)) s"
ls -l "$DIR"/dist
# the new build over an older one of the same version, then its dependencies (numpy) if missing
"$DIR/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$DIR"/dist/mnemo-*.whl
"$DIR/bin/pip" install -q --disable-pip-version-check "$DIR"/dist/mnemo-*.whl
echo "$PINS $SOURCES" >"$DIR/stamp"
