# tests/sim/simtrain: rules owned by the part built here.
