#!/bin/sh
# Configures (once) and builds memtrace in the source tree.  Re-running is
# cheap: autoreconf and configure run only when their inputs changed.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
  autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
  ./configure --quiet ${MEMTRACE_CONFIGURE_FLAGS:-}
fi
make -j"$(nproc)" >/dev/null || make
