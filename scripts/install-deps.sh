#!/bin/sh
# Installs what memtrace needs to build, test and demo on Debian 12, with
# apt-get (Open MPI: mpirun-launched jobs in the tests, `memtrace report
# --mpi`).  Idempotent: packages already present are not fetched again, and
# the package lists are refreshed only when something is missing.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
      libsqlite3-dev sqlite3 libunwind-dev libcmocka-dev libjson-c-dev zlib1g-dev
      libprotobuf-c-dev protobuf-c-compiler
      libgtk-4-dev python3 chromium
      python3-torch python3-venv python3-dev xvfb xauth
      openmpi-bin libopenmpi-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "memtrace: installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
