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
sh scripts/test-summary.sh .
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
