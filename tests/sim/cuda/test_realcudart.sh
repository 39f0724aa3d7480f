#!/bin/sh
# Runs test_realcudart (linked against the real libcudart.so.13) over the
# stand-ins: LD_LIBRARY_PATH puts tests/sim/cuda/.libs first, so the loader
# binds libcudart.so.13 and the runtime's dlopen("libcuda.so.1") there.
b="${MT_BUILDDIR:-$(pwd)}/tests/sim/cuda"
LD_LIBRARY_PATH="$b/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
MT_SIM_DEVICES=2
MT_SIM_DEVICE_MEMORY=256MiB
CMOCKA_MESSAGE_OUTPUT=TAP
export LD_LIBRARY_PATH MT_SIM_DEVICES MT_SIM_DEVICE_MEMORY CMOCKA_MESSAGE_OUTPUT
unset MT_SIM_TIME_SCALE MT_SIM_ALLOC_GRANULARITY
exec "$b/test_realcudart"
