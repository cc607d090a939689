#!/usr/bin/env bash
# gen-options.sh [--check] MNEMO — docs/options.md from the settings table:
# writes what `MNEMO help --markdown` prints (MNEMO: the built executable,
# e.g. build/mnemo). With --check, writes nothing and fails, naming the
# command to run, when docs/options.md differs from it (the docs_options test).
set -euo pipefail
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: scripts/gen-options.sh [--check] MNEMO   (MNEMO: the built executable, e.g. build/mnemo)" >&2
  exit 2
fi
mnemo=$1
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/docs/options.md"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
"$mnemo" help --markdown >"$tmp"
if [ "$check" = 1 ]; then
  if ! diff -u "$out" "$tmp" >&2; then
    echo "docs/options.md is not what '$mnemo help --markdown' prints (diff above: - the file, + the table)." >&2
    echo "Regenerate it with: bash scripts/gen-options.sh $mnemo" >&2
    exit 1
  fi
  echo "docs/options.md matches the settings table"
  exit 0
fi
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"
