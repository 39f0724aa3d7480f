#!/bin/sh
# The whole test suite: installs dependencies, builds, runs `make check`,
# and ends with one line "N passed, N failed" counting individual test
# cases.  Exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
# torch 2.x beside Debian's 1.13 for tests/python (PyPI; the tests say what
# they skipped when it cannot be had)
sh scripts/install-torch.sh >/dev/null || echo "memtrace: tests/python will run on Debian's torch only" >&2
if ! sh scripts/build.sh; then
  echo "memtrace: build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
# CI replays the fuzz corpus under ASan+UBSan (tests/interop/test_fuzz_corpus.sh
# requires these there; ~30 s to build, 2 s to run)
if [ "${CI:-}" = true ]; then
  make -j"$(nproc)" fuzz-asan-replay >/dev/null 2>&1 || echo "memtrace: make fuzz-asan-replay failed" >&2
fi
# A run that stops before its tests (a test program that does not compile)
# must not be summarised from an earlier run's logs: mark the start, and
# remove the earlier results.
: >.test-start
find . -name '*.trs' -not -path './.git/*' -exec sh -c 'rm -f "$1" "${1%.trs}.log"' _ {} \; 2>/dev/null
rm -f test-suite.log
make -j"$(nproc)" check >check.out 2>&1
status=$?
grep -E '^(PASS|FAIL|XPASS|ERROR|SKIP):' check.out | grep -v '^PASS' || true
if [ $status -ne 0 ]; then
  # the logs of what failed, where CI can see them
  for trs in $(grep -l -E '^:test-result: (FAIL|XPASS|ERROR)' $(find . -name '*.trs') 2>/dev/null); do
    echo "---- ${trs%.trs}.log" >&2
    grep -v '^ok ' "${trs%.trs}.log" | tail -40 >&2
  done
  tail -20 check.out >&2
fi
sh scripts/test-summary.sh . "$status"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
