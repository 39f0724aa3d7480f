#!/bin/sh
# nvcc-built programs on the simulated stack (TAP).
#   nvcc_kernels_static: nvcc's default static runtime, resolved to the
#     stand-in libcudart_static.a; must import nothing from CUDA at link time
#     and reach the driver only by dlopen + cuGetProcAddress_v2.
#   nvcc_kernels_shared: -cudart shared, linked against the REAL
#     libcudart.so.13, run over the stand-ins by LD_LIBRARY_PATH.
# Ground truth: the mangled names are those of the host stubs nvcc emitted
# (read back with nm), the counts are the launches written in the source.
b="${MT_BUILDDIR:-$(pwd)}/tests/sim/cuda"
LD_LIBRARY_PATH="$b/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
MT_SIM_DEVICES=1
MT_SIM_DEVICE_MEMORY=1GiB
export LD_LIBRARY_PATH MT_SIM_DEVICES MT_SIM_DEVICE_MEMORY
unset MT_SIM_TIME_SCALE MT_SIM_ALLOC_GRANULARITY
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mt-sim-nvcc.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { desc=$1; shift; if "$@" >/dev/null 2>&1; then ok "$desc"; else notok "$desc"; fi; }
lacks() { ! grep -Eq "$1" "$2"; }

echo "1..16"
st="$b/nvcc_kernels_static"
sh="$b/nvcc_kernels_shared"
readelf -d "$st" >"$tmp/st.dyn" 2>&1
nm -D --undefined-only "$st" >"$tmp/st.und" 2>&1
nm "$st" >"$tmp/st.nm" 2>&1
check "static: no libcudart/libcuda in NEEDED" lacks 'libcudart|libcuda\.' "$tmp/st.dyn"
check "static: no cuda*/cu* dynamic imports" lacks ' (cuda[A-Z]|__cuda|cu[A-Z])' "$tmp/st.und"
check "static: cudaMalloc and cudaLaunchKernel defined in the binary" \
	sh -c "grep -q ' T cudaMalloc\$' '$tmp/st.nm' && grep -q ' T cudaLaunchKernel\$' '$tmp/st.nm'"
check "static: the stand-in runtime was linked, not the real one" lacks 'cuGetExportTable' "$st"
check "static: dlopen and dlsym imported (driver reached at run time)" \
	sh -c "grep -q ' dlopen' '$tmp/st.und' && grep -q ' dlsym' '$tmp/st.und'"
check "static: nvcc emitted the host stubs _Z5scalePffi _Z4fillPii _ZN2mt5touchEPc" \
	sh -c "grep -q ' _Z5scalePffi\$' '$tmp/st.nm' && grep -q ' _Z4fillPii\$' '$tmp/st.nm' && grep -q ' _ZN2mt5touchEPc\$' '$tmp/st.nm'"
MT_SIM_LOG="$tmp/st.log" "$st" >"$tmp/st.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "static: runs on the stand-ins, launches accepted"; else
	notok "static: runs on the stand-ins, launches accepted"; sed 's/^/# /' "$tmp/st.out"; fi
check "static: driver log names the kernels (2 scale, 1 fill, 1 mt::touch)" sh -c "
	[ \$(grep -c 'launch name=_Z5scalePffi ' '$tmp/st.log') -eq 2 ] &&
	[ \$(grep -c 'launch name=_Z4fillPii ' '$tmp/st.log') -eq 1 ] &&
	[ \$(grep -c 'launch name=_ZN2mt5touchEPc ' '$tmp/st.log') -eq 1 ] &&
	[ \$(grep -c 'launch name=' '$tmp/st.log') -eq 4 ]"
check "static: log has the grid/block of mt::touch<<<dim3(2,2),dim3(8,8)>>>" \
	grep -q 'launch name=_ZN2mt5touchEPc .* grid=2,2,1 block=8,8,1 ' "$tmp/st.log"
check "static: 3 device allocations made and freed" sh -c "
	[ \$(grep -c 'alloc kind=sync' '$tmp/st.log') -eq 3 ] && [ \$(grep -c 'free kind=sync' '$tmp/st.log') -eq 3 ]"

readelf -d "$sh" >"$tmp/sh.dyn" 2>&1
check "shared: NEEDED libcudart.so.13" grep -q 'libcudart.so.13' "$tmp/sh.dyn"
MT_SIM_LOG="$tmp/sh.log" LD_DEBUG=files LD_DEBUG_OUTPUT="$tmp/ld" "$sh" >"$tmp/sh.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok "shared: real-linked program runs on the stand-ins"; else
	notok "shared: real-linked program runs on the stand-ins"; sed 's/^/# /' "$tmp/sh.out"; fi
check "shared: the loader picked the stand-in libcudart.so.13" \
	sh -c "cat '$tmp'/ld* | grep 'calling init' | grep 'libcudart.so.13' | grep -q '/tests/sim/cuda/.libs/'"
check "shared: driver log names the kernels" sh -c "
	[ \$(grep -c 'launch name=_Z5scalePffi ' '$tmp/sh.log') -eq 2 ] &&
	[ \$(grep -c 'launch name=' '$tmp/sh.log') -eq 4 ]"

rt="$b/.libs/libcudart.so.13"
nm -D --undefined-only "$rt" >"$tmp/rt.und" 2>&1
readelf -d "$rt" >"$tmp/rt.dyn" 2>&1
check "stand-in libcudart: no cu* imports, libcuda not in NEEDED" \
	sh -c "! grep -Eq ' cu[A-Z]' '$tmp/rt.und' && ! grep -q 'libcuda\.' '$tmp/rt.dyn'"
check "stand-in libcudart: exports under version libcudart.so.13" \
	sh -c "nm -D --defined-only '$rt' | grep -q ' cudaMalloc@@libcudart.so.13\$'"
[ $fails -eq 0 ]
