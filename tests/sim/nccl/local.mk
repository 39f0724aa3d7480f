# tests/sim/nccl: rules owned by the part built here.
