# tests/sim/cuda: rules owned by the part built here.
