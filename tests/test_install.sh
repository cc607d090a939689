#!/usr/bin/env bash
# test_install.sh — `cmake --install` into a temporary prefix, then used the
# way a user would: a C program built against the installed libmnemo with
# nothing but `pkg-config --cflags --libs mnemo` (shared, run with the
# installed libmnemo.so) and `pkg-config --static` (libmnemo.a, no libmnemo.so
# needed at run time), each printing the vector `mnemo embed` prints for the
# same text; the installed mnemo runs; the man page renders and covers every
# command; the systemd unit names the installed mnemo and passes
# `systemd-analyze verify` (when systemd-analyze exists).
# usage: test_install.sh BUILD_DIR SOURCE_DIR MODEL_DIR
set -u
BUILD=$1 SRC=$2 MODEL=$3
pass=0 fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$T/prefix
cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1
check "cmake --install into a temporary prefix" $?
for f in bin/mnemo lib/libmnemo.a lib/libmnemo.so lib/libmnemo.so.0 include/mnemo.h \
         lib/pkgconfig/mnemo.pc share/man/man1/mnemo.1 lib/systemd/system/mnemo.service; do
  check "installed: $f" $([ -e "$P/$f" ] && echo 0 || echo 1)
done

# same A B : two JSON vectors within 1e-6
same() { python3 -c '
import json,sys
a=json.loads(open(sys.argv[1]).read()); b=json.loads(open(sys.argv[2]).read())
assert len(a)==len(b)>0 and max(abs(x-y) for x,y in zip(a,b))<1e-6' "$1" "$2"; }
"$P/bin/mnemo" embed --model "$MODEL" "an installed library" >"$T/want" 2>"$T/err"
check "installed mnemo embed" $?

export PKG_CONFIG_PATH=$P/lib/pkgconfig
check "pkg-config knows mnemo at the project's version" \
  $([ "$(pkg-config --modversion mnemo)" = "$("$P/bin/mnemo" --version | head -1 | awk '{print $2}')" ] && echo 0 || echo 1)
# shared: what pkg-config gives, plus an rpath to the prefix (not a system path)
cc -std=c11 -Wall -Wextra -Werror "$SRC/tests/install_embed.c" $(pkg-config --cflags --libs mnemo) \
  -Wl,-rpath,"$P/lib" -o "$T/embed_shared" 2>"$T/cc.log"
check "builds with pkg-config --cflags --libs mnemo" $? || cat "$T/cc.log" >&2
check "the shared build runs with the installed libmnemo.so" \
  $(ldd "$T/embed_shared" | grep -q "libmnemo.so.0 => $P/lib/libmnemo.so.0" && echo 0 || echo 1)
"$T/embed_shared" "$MODEL" "an installed library" >"$T/got_shared" 2>>"$T/err"
same "$T/want" "$T/got_shared"; check "shared: the vector of mnemo embed" $?
# static: libmnemo.a by name, its dependencies from Libs.private/Requires.private
LIBS=$(pkg-config --static --libs mnemo | sed 's/-lmnemo\b/-Wl,-Bstatic -lmnemo -Wl,-Bdynamic/')
cc -std=c11 -Wall -Wextra -Werror "$SRC/tests/install_embed.c" $(pkg-config --static --cflags mnemo) $LIBS \
  -o "$T/embed_static" 2>"$T/cc.log"
check "builds with pkg-config --static --libs mnemo" $? || cat "$T/cc.log" >&2
check "the static build needs no libmnemo.so" $(ldd "$T/embed_static" | grep -q libmnemo && echo 1 || echo 0)
"$T/embed_static" "$MODEL" "an installed library" >"$T/got_static" 2>>"$T/err"
same "$T/want" "$T/got_static"; check "static: the vector of mnemo embed" $?

# the man page: renders, and has every command's section and the new flags
MANWIDTH=100 man -l "$P/share/man/man1/mnemo.1" >"$T/man.txt" 2>"$T/man.err" ||
  groff -man -Tutf8 "$P/share/man/man1/mnemo.1" >"$T/man.txt" 2>"$T/man.err"
check "man page renders" $([ -s "$T/man.txt" ] && echo 0 || echo 1)
for c in tokenize serve embed bench memory mcp migrate; do
  check "man page: mnemo $c" $(grep -q "^ *mnemo $c\$" "$T/man.txt" && echo 0 || echo 1)
done
check "man page: serve's --cache-file" $(grep -q -- '--cache-file PATH' "$T/man.txt" && echo 0 || echo 1)

# the systemd unit
U=$P/lib/systemd/system/mnemo.service
check "unit: ExecStart is the installed mnemo" $(grep -q "^ExecStart=$P/bin/mnemo serve\$" "$U" && echo 0 || echo 1)
if command -v systemd-analyze >/dev/null; then
  # man:mnemo(1) is looked up in the prefix's man pages
  MANPATH=$P/share/man: systemd-analyze verify "$U" >"$T/verify.log" 2>&1
  check "systemd-analyze verify mnemo.service" $? || cat "$T/verify.log" >&2
else
  echo "systemd-analyze not found: the unit is not verified (scripts/install-deps.sh --test installs systemd)"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
