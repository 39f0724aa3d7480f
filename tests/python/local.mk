# PyTorch integration: the bootstrap's install rules, and its tests
# (tests/python/: real torch on CPU when importable, synthetic and
# cs336-snapshot feeds of the framework channel).
include collector/python/local.mk
if ENABLE_TESTS
TESTS += tests/python/test_bootstrap.sh tests/python/test_channel.sh tests/python/test_dist.sh tests/python/test_compile.sh tests/python/test_simgpu.sh \
	tests/python/test_simgpu_libs.sh tests/python/test_simulate.sh tests/python/test_simulate_launchers.sh tests/python/test_simulate_nodes.sh \
	tests/python/test_simulate_mpi.sh
TESTS += tests/python/test_history_owner.sh tests/python/test_spawn.sh tests/python/test_sac.sh
endif
EXTRA_DIST += tests/python/common.sh tests/python/test_bootstrap.sh tests/python/test_channel.sh \
	tests/python/train_small.py tests/python/check_ranges.py tests/python/feed_synthetic.py \
	tests/python/feed_snapshot.py \
	tests/python/test_dist.sh tests/python/train_dist.py tests/python/check_dist.py tests/python/taplib.py \
	tests/python/test_compile.sh tests/python/train_compile.py tests/python/check_compile.py \
	tests/python/test_simgpu.sh tests/python/train_simgpu.py tests/python/check_simgpu.py tests/python/graph_simgpu.py tests/python/check_profiler.py tests/python/ckpt_simgpu.py tests/python/stream_simgpu.py \
	tests/python/test_simgpu_libs.sh tests/python/train_nanogpt.py tests/python/check_nanogpt.py \
	tests/python/test_history_owner.sh tests/python/check_history_fake.py \
	tests/python/test_spawn.sh tests/python/train_spawn.py \
	tests/python/test_simulate.sh tests/python/test_simulate_launchers.sh tests/python/test_simulate_nodes.sh \
	tests/python/test_simulate_mpi.sh tests/python/simulate_env.sh tests/python/dist_simgpu.py tests/python/check_simulate.py \
	tests/python/test_sac.sh tests/python/train_sac.py
