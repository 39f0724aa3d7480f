#!/bin/sh
# Runs test_cublaslt (linked against the REAL libcublasLt.so.13,
# libcublas.so.13 and libcudart.so.13, as a framework build is) over the
# stand-ins of tests/sim/cublaslt, cublas and cuda.
b="${MT_BUILDDIR:-$(pwd)}/tests/sim"
LD_LIBRARY_PATH="$b/cublaslt/.libs:$b/cublas/.libs:$b/cuda/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
MT_SIM_DEVICES=1
MT_SIM_DEVICE_MEMORY=256MiB
CMOCKA_MESSAGE_OUTPUT=TAP
export LD_LIBRARY_PATH MT_SIM_DEVICES MT_SIM_DEVICE_MEMORY CMOCKA_MESSAGE_OUTPUT
unset MT_SIM_TIME_SCALE MT_SIM_ALLOC_GRANULARITY CUBLAS_WORKSPACE_CONFIG
exec "$b/cublaslt/test_cublaslt"
