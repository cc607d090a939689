#!/usr/bin/env bash
# test_deb.sh — the .deb `cpack -G DEB` makes: its Depends are Debian
# packages that exist here (dpkg-query finds each one installed), it holds
# the executable, the libraries, the header, mnemo.pc, the man page and the
# unit under /usr, and the mnemo it installs runs (--version, and embed on
# MODEL, compared with the build's own mnemo embed).
# It is unpacked into a fresh root with dpkg -x, which never touches this
# machine's package database (the suite also runs on shared machines, as
# root). MNEMO_TEST_DPKG_INSTALL=1 (as root, on a throwaway machine such as
# CI's) also runs dpkg -i, checks /usr/bin/mnemo, and dpkg -r.
# usage: test_deb.sh BUILD_DIR MNEMO MODEL_DIR
set -u
BUILD=$1 MNEMO=$2 MODEL=$3
pass=0 fail=0
check() { if [ "$2" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
(cd "$T" && cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1
check "cpack -G DEB" $? || tail -20 "$T/cpack.log" >&2
DEB=$(ls "$T"/pkg/mnemo_*.deb 2>/dev/null | head -1)
check "a mnemo_VERSION_ARCH.deb" $([ -n "$DEB" ] && echo 0 || echo 1)
[ -n "$DEB" ] || { echo "$pass passed, $fail failed"; exit 1; }

DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for p in libc6 libjansson4 libsqlite3-0 libpq5 libhiredis0.14 libmicrohttpd12; do
  check "Depends names $p" $(echo "$DEPENDS" | tr ',' '\n' | grep -qx " *$p\( (.*)\)\? *" && echo 0 || echo 1)
done
# every name in Depends is a real Debian package, installed here
for p in $(echo "$DEPENDS" | tr ',' '\n' | sed 's/(.*)//; s/ //g'); do
  check "Depends: $p is a package of this Debian" \
    $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && echo 0 || echo 1)
done
dpkg-deb -c "$DEB" >"$T/contents"
for f in usr/bin/mnemo usr/lib/libmnemo.a usr/lib/libmnemo.so.0 usr/include/mnemo.h \
         usr/lib/pkgconfig/mnemo.pc usr/share/man/man1/mnemo.1 usr/lib/systemd/system/mnemo.service; do
  check "the .deb holds /$f" $(grep -q " \./$f\( ->.*\)\?\$" "$T/contents" && echo 0 || echo 1)
done

R=$T/root
dpkg -x "$DEB" "$R"
check "dpkg -x into a fresh root" $?
check "the unit starts /usr/bin/mnemo" $(grep -q '^ExecStart=/usr/bin/mnemo serve$' "$R/usr/lib/systemd/system/mnemo.service" && echo 0 || echo 1)
check "mnemo.pc's prefix is /usr" $(grep -q '^prefix=/usr$' "$R/usr/lib/pkgconfig/mnemo.pc" && echo 0 || echo 1)
V=$("$R/usr/bin/mnemo" --version 2>&1)
check "the packaged mnemo --version" $(echo "$V" | grep -q "^mnemo $(dpkg-deb -f "$DEB" Version)" && echo 0 || { echo "  got: $V" >&2; echo 1; })
"$MNEMO" embed --model "$MODEL" --prompt query "packaged" >"$T/want" 2>/dev/null
"$R/usr/bin/mnemo" embed --model "$MODEL" --prompt query "packaged" >"$T/got" 2>"$T/err"
python3 -c '
import json,sys
a=json.loads(open(sys.argv[1]).read()); b=json.loads(open(sys.argv[2]).read())
assert len(a)==len(b)>0 and max(abs(x-y) for x,y in zip(a,b))<1e-6' "$T/want" "$T/got"
check "the packaged mnemo embed: the build's vector" $? || cat "$T/err" >&2

if [ "${MNEMO_TEST_DPKG_INSTALL:-}" = 1 ] && [ "$(id -u)" = 0 ]; then
  dpkg -i "$DEB" >"$T/dpkg.log" 2>&1; check "dpkg -i" $? || cat "$T/dpkg.log" >&2
  check "dpkg -i: /usr/bin/mnemo --version" $(/usr/bin/mnemo --version >/dev/null 2>&1 && echo 0 || echo 1)
  dpkg -r mnemo >>"$T/dpkg.log" 2>&1; check "dpkg -r" $?
  check "dpkg -r: /usr/bin/mnemo is gone" $([ ! -e /usr/bin/mnemo ] && echo 0 || echo 1)
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
