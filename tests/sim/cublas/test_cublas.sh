#!/bin/sh
# Runs test_cublas (linked against the REAL libcublas.so.13 and
# libcudart.so.13, as a framework build is) over the stand-ins: the loader
# binds tests/sim/cublas/.libs/libcublas.so.13 and tests/sim/cuda/.libs/
# libcudart.so.13, which dlopen()s the simulated libcuda.so.1.
b="${MT_BUILDDIR:-$(pwd)}/tests/sim"
LD_LIBRARY_PATH="$b/cublas/.libs:$b/cuda/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
MT_SIM_DEVICES=2
MT_SIM_DEVICE_MEMORY=256MiB
CMOCKA_MESSAGE_OUTPUT=TAP
export LD_LIBRARY_PATH MT_SIM_DEVICES MT_SIM_DEVICE_MEMORY CMOCKA_MESSAGE_OUTPUT
unset MT_SIM_TIME_SCALE MT_SIM_ALLOC_GRANULARITY CUBLAS_WORKSPACE_CONFIG
exec "$b/cublas/test_cublas"
