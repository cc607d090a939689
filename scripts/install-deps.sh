#!/usr/bin/env bash
# install-deps.sh [--test] — installs the Debian packages mnemo needs to build
# (and, with --test, to run its tests and fuzzers). Idempotent: packages that
# are present are left alone; it prints what it installs. Run as root or with sudo.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libjansson-dev libmicrohttpd-dev libsqlite3-dev libhiredis-dev libpq-dev python3 python3-venv python3-pip)
if [ "${1:-}" = "--test" ]; then
  # unzip and util-linux's runuser: the PostgreSQL of the tests (tests/pg_lib.sh);
  # chromium + chromium-driver: the console's browser test (selenium drives them);
  # python3-dev: Python's headers, for the Python package's extension (python/);
  # systemd (systemd-analyze verify) and man-db: the install test's unit and man page
  PKGS+=(clang libclang-rt-14-dev curl redis-server redis-tools unzip util-linux chromium chromium-driver python3-dev
         systemd man-db)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "install-deps: apt-get install ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
