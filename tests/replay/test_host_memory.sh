#!/bin/sh
# The host side of optimizer offload, checked against simtrain: the pinned
# host memory replay predicts for --offload optimizer, nvme (ZeRO-Infinity)
# and optimizer:layerwise (GRASS) equals simtrain's (host_pinned_bytes of its
# truth, within 1 %), and with --host-memory SIZE the plans replay says do not
# fit the host are those simtrain cannot run there (host OOM, exit 1).
MT_TEST_NAME=host_memory
. "${MT_SRCDIR:-.}/tests/sim/simtrain/testenv.sh"
plan 5
need_record_and_simtrain
if ! "$MT" record -q -o "$TMP/gpt" -- "$ST" $SMALL >/dev/null 2>&1; then
  not_ok "recording simtrain failed"
  skip_rest "no recording"
  done_testing
  exit 0
fi
# pred OPTS: "host_pinned_bytes host_oom" as replay predicts them
pred() {
  "$MT" replay "$TMP/gpt" "$@" --format json | python3 -c '
import json, sys; c = json.load(sys.stdin)["cost"]; print(c["host_pinned_bytes"], c["host_oom"])'
}
for off in optimizer nvme optimizer:layerwise; do
  set -- $(pred --offload $off)
  "$ST" $SMALL --offload $off --truth "$TMP/t.json" >/dev/null 2>&1
  t=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d.get("ranks", [d])[0]["host_pinned_bytes"])' "$TMP/t.json" 2>/dev/null)
  what="--offload $off: host pinned predicted ${1:-none}, simtrain ${t:-none}"
  if [ -n "$1" ] && [ -n "$t" ] && [ "$t" -gt 0 ] && awk -v p="$1" -v t="$t" 'BEGIN { d = p - t; if (d < 0) d = -d; exit !(d <= t / 100) }'; then
    ok "$what"
  else
    not_ok "$what"
  fi
done
# 100 MiB of host memory: ZeRO-Offload's states do not fit, NVMe's swap buffers do
for off in optimizer nvme; do
  set -- $(pred --offload $off --host-memory 100MiB)
  "$ST" $SMALL --offload $off --host-memory 100MiB --truth "$TMP/h.json" >/dev/null 2>&1; rc=$?
  what="--offload $off --host-memory 100MiB: replay host_oom ${2:-none}, simtrain exits $rc"
  if { [ "$2" = True ] && [ $rc = 1 ]; } || { [ "$2" = False ] && [ $rc = 0 ]; }; then ok "$what"; else not_ok "$what"; fi
done
done_testing
