# Tests.  unit/: cmocka suites over the libraries; sim/: the simulated GPU
# stack and workload (their own local.mk); golden/: checked-in fixtures.
include tests/sim/cuda/local.mk
include tests/sim/nccl/local.mk
include tests/sim/cublas/local.mk
include tests/sim/cublaslt/local.mk
include tests/sim/cudnn/local.mk
include tests/sim/cupti/local.mk
include tests/sim/simtrain/local.mk
include tests/unit/local.mk
include tests/collector/local.mk
include tests/replay/local.mk
include tests/interop/local.mk
include tests/analyzer/local.mk
include tests/gui/local.mk
include tests/python/local.mk
