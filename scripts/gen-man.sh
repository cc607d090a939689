#!/usr/bin/env bash
# gen-man.sh MNEMO OUT — the man page mnemo.1, written from what the built
# executable prints (`mnemo --help`, `mnemo --version` and `mnemo help CMD`
# for every command), so the page never drifts from the settings table.
# A small script rather than help2man: no extra build dependency, and the
# per-command sections are kept as the help prints them. The page carries
# no date, so the same sources give the same bytes.
set -euo pipefail
if [ $# -ne 2 ] || [ ! -x "$1" ]; then
  echo "usage: scripts/gen-man.sh MNEMO OUT   (MNEMO: the built executable)" >&2
  exit 2
fi
mnemo=$1 out=$2
# roff-escape: backslashes, then a leading dot or quote (a request otherwise)
esc() { sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'; }
version=$("$mnemo" --version | head -1 | awk '{print $2}')
commands=$("$mnemo" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{exit}' | grep -v '^help$')
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo ".TH MNEMO 1 \"\" \"mnemo $version\" \"User Commands\""
  echo ".SH NAME"
  echo "mnemo \\- embeddings and memory for agents, on the CPU (EmbeddingGemma-300M)"
  echo ".SH SYNOPSIS"
  echo ".B mnemo"
  echo ".I COMMAND"
  echo "[options]"
  echo ".SH DESCRIPTION"
  echo ".nf"
  "$mnemo" --help | esc
  echo ".fi"
  echo ".SH COMMANDS"
  for c in $commands; do
    echo ".SS mnemo $c"
    echo ".nf"
    "$mnemo" help "$c" | esc
    echo ".fi"
  done
  echo ".SH FILES"
  echo ".TP"
  echo ".I ~/.cache/mnemo"
  echo "derived files (binary tokenizer, packed weights); --cache-dir or MNEMO_CACHE_DIR"
  echo ".SH SEE ALSO"
  echo "The documentation in the source tree: README.md, docs/operations.md, docs/options.md."
} >"$tmp"
mv "$tmp" "$out"
trap - EXIT
