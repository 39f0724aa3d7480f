#!/bin/sh
# Perfetto's own Python package (PyPI `perfetto`, with `protobuf`) in a
# small virtual environment, for tests/interop/test_perfetto_proto.sh: the
# wheel ships Perfetto's compiled trace schema (perfetto_trace_pb2), which
# parses our `export --format perfetto-proto` files independently of our
# protobuf-c encoder.  Prints the environment's python.  Idempotent: an
# environment that imports the schema is kept.  Fails (non-zero, a message)
# without network; the test then skips.
#   sh scripts/perfetto-venv.sh
set -eu
VENV=${MT_PERFETTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/memtrace/perfetto-venv}
PY=$VENV/bin/python
CHECK="from perfetto.protos.perfetto.trace import perfetto_trace_pb2"
if [ -x "$PY" ] && "$PY" -c "$CHECK" >/dev/null 2>&1; then
  echo "$PY"
  exit 0
fi
echo "memtrace: installing perfetto and protobuf into $VENV (PyPI, about 10 MB)" >&2
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
/usr/bin/python3 -m venv "$VENV" >&2
if ! "$VENV/bin/pip" install -q --disable-pip-version-check "perfetto>=0.50" "protobuf>=4" >"$VENV/install.log" 2>&1 ||
   ! "$PY" -c "$CHECK" >/dev/null 2>&1; then
  echo "memtrace: perfetto not installed (log: $VENV/install.log)" >&2
  exit 1
fi
echo "$PY"
