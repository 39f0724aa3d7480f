# bench: `make bench` (not part of `make check`): the collector's cost per
# intercepted call (bare / no-op / no stacks / native stacks, side by side),
# sustained capture into SQLite, simtrain end to end, and PyTorch step
# times bare / torch's history / memtrace / --no-python (torch_steps.sh).  Needs nvcc.
EXTRA_DIST += bench/run_bench.sh bench/bench_calls.cu bench/torch_overhead.sh bench/torch_overhead.py \
	bench/torch_steps.sh bench/torch_steps.py
if HAVE_NVCC
bench/bench_calls: $(srcdir)/bench/bench_calls.cu
	$(AM_V_GEN)$(NVCC) -O2 -cudart shared -o $@ $(srcdir)/bench/bench_calls.cu
CLEANFILES += bench/bench_calls
bench: bench/bench_calls collector/libmemtrace-collector.la collector/libmemtrace-collector-nop.la \
	tests/sim/cuda/libcuda.la tests/sim/cuda/libcudart.la
	@MT_BUILDDIR='$(abs_top_builddir)' $(SHELL) $(srcdir)/bench/run_bench.sh
	@MT_BUILDDIR='$(abs_top_builddir)' $(SHELL) $(srcdir)/bench/torch_steps.sh
else
bench:
	@echo "make bench needs nvcc (the benchmark program is a .cu file)"; exit 1
endif
.PHONY: bench
