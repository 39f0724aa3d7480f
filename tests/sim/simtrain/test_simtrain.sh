#!/bin/sh
# TAP tests of simtrain against external formulas (shared/ORACLES.md sections
# 1 and 3) and truth-file consistency checks.  Needs the simulated CUDA,
# cuBLAS and NCCL libraries (tests/sim/cuda, tests/sim/cublas, tests/sim/nccl)
# and python3 for JSON.
B=${MT_BUILDDIR:-.}
S=$B/tests/sim/simtrain/simtrain
CK=${MT_SRCDIR:-.}/tests/sim/simtrain/check_truth.py
LD_LIBRARY_PATH=$B/tests/sim/cublas/.libs:$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/simtrain-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
if [ ! -x "$S" ] || [ ! -e "$B/tests/sim/cuda/.libs/libcudart.so.13" ] || [ ! -e "$B/tests/sim/cublas/.libs/libcublas.so.13" ] || ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP simtrain, the simulated libraries or python3 missing"
	exit 0
fi
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { # name, then the command
	name=$1; shift
	if out=$("$@" 2>&1); then ok "$name"; else nok "$name"; echo "$out" | sed 's/^/# /'; fi
}
run() { # file, args...
	f=$1; shift
	timeout 120 "$S" --truth "$T/$f.json" "$@" >"$T/$f.out" 2>&1
}

echo "1..33"
# Psi = 7,419,392 with defaults: every unit divisible by 4.
check "single rank bf16 runs" run base
check "truth consistency (categories at peak, replay of tensors, events)" python3 "$CK" consistency "$T/base.json"
check "saved activations per layer = sbh(34 + 5as/h)" python3 "$CK" act_none "$T/base.json"
check "checkpoint all runs" run ckall --checkpoint all
check "full recompute keeps 2sbh per layer" python3 "$CK" act_full "$T/ckall.json"
check "checkpoint all lowers activations at the peak by L*(sbh(34+5as/h) - 2sbh)" python3 "$CK" ck_drop "$T/base.json" "$T/ckall.json"
check "selective recompute keeps 34sbh" sh -c "run() { timeout 120 '$S' --truth '$T/sel.json' --checkpoint selective >/dev/null 2>&1; }; run && python3 '$CK' act_selective '$T/sel.json'"
for w in 2 4; do
	for z in 0 1 2 3; do
		check "ZeRO-$z world $w model states = ORACLES 1 formula (K=12)" sh -c \
			"timeout 120 '$S' --world $w --zero $z --truth '$T/z$z$w.json' >'$T/z$z$w.out' 2>&1 && python3 '$CK' zero '$T/z$z$w.json' $z"
	done
done
check "ZeRO-3 world 4 truth consistency" python3 "$CK" consistency "$T/z34.json"
check "megatron sp 2: saved = sbh(34/t + 5as/(ht))" sh -c \
	"timeout 120 '$S' --world 2 --sp 2 --truth '$T/sp.json' >/dev/null 2>&1 && python3 '$CK' act_sp '$T/sp.json'"
check "ulysses sp 2 runs, same saved bytes" sh -c \
	"timeout 120 '$S' --world 2 --sp 2 --sp-kind ulysses --truth '$T/ul.json' >/dev/null 2>&1 && python3 '$CK' act_sp '$T/ul.json' && python3 '$CK' consistency '$T/ul.json'"
# OOM: 256 MiB device, the default model needs ~290 MB reserved.
MT_SIM_DEVICE_MEMORY=256MiB timeout 120 "$S" --truth "$T/oom.json" >"$T/oom.out" 2>"$T/oom.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "CUDA out of memory. Tried to allocate" "$T/oom.err"; then ok "OOM exits 1 with PyTorch's message"; else nok "OOM exits 1 with PyTorch's message (rc $rc)"; fi
check "OOM recorded in the truth" python3 "$CK" oom "$T/oom.json" 268435456
check "micro-batches, flash, offload, optimizers, train-layers run consistently" sh -c \
	"for a in '--micro-batches 2 --attention flash' '--offload optimizer --optimizer sgd' '--optimizer adafactor --dtype fp32' '--train-layers 2 --optimizer lion' '--arch evoformer --checkpoint every:2'; do timeout 120 '$S' \$a --truth '$T/v.json' >/dev/null 2>&1 || exit 1; python3 '$CK' consistency '$T/v.json' || exit 1; done"
for dt in bf16 fp32; do
	check "$dt: events = the simulated driver's log (launches incl. cuBLAS's, allocs, frees); workspace made by cuBLAS" sh -c \
		"MT_SIM_LOG='$T/drv-$dt.log' timeout 120 '$S' --dtype $dt --steps 2 --truth '$T/drv-$dt.json' >/dev/null 2>&1 && python3 '$CK' driverlog '$T/drv-$dt.json' '$T/drv-$dt.log' $dt"
done
# Evoformer: saved activations per block = the README's closed form
check "evoformer: saved bytes per block = closed form" sh -c \
	"timeout 120 '$S' --arch evoformer --truth '$T/evo.json' >/dev/null 2>&1 && python3 '$CK' evo '$T/evo.json' && python3 '$CK' consistency '$T/evo.json'"
check "evoformer fp32, checkpoint every:2, 96 residues: closed form (inputs only when checkpointed)" sh -c \
	"timeout 120 '$S' --arch evoformer --dtype fp32 --residues 96 --msa-seqs 16 --checkpoint every:2 --truth '$T/evo2.json' >/dev/null 2>&1 && python3 '$CK' evo '$T/evo2.json'"
check "preset af2 (48 blocks, c_m 256, c_z 128, ~81M parameters): closed form, consistent" sh -c \
	"timeout 120 '$S' --preset af2 --truth '$T/af2.json' >/dev/null 2>&1 && python3 '$CK' evo '$T/af2.json' && python3 '$CK' consistency '$T/af2.json'"
# pipeline parallelism: peak saved activations per stage = closed forms (check_truth.py pp)
for sch in gpipe 1f1b; do
	check "pp 2 $sch, 4 micro-batches: stage activations = layers x sbh(34+5as/h) x in flight" sh -c \
		"timeout 120 '$S' --world 2 --pp 2 --pp-schedule $sch --micro-batches 4 --truth '$T/pp-$sch.json' >'$T/pp-$sch.out' 2>&1 && python3 '$CK' pp '$T/pp-$sch.json' && python3 '$CK' consistency '$T/pp-$sch.json'"
done
check "pp 2: 1f1b's first stage keeps fewer activations and peaks lower than gpipe's" python3 "$CK" pp_cmp "$T/pp-gpipe.json" "$T/pp-1f1b.json"
check "pp 4 1f1b, 6 micro-batches: 4, 3, 2, 1 in flight" sh -c \
	"timeout 120 '$S' --world 4 --pp 4 --layers 8 --batch 6 --micro-batches 6 --steps 2 --pp-schedule 1f1b --truth '$T/pp4.json' >/dev/null 2>&1 && python3 '$CK' pp '$T/pp4.json' && python3 '$CK' consistency '$T/pp4.json'"
check "dp 2 x pp 2 with ZeRO-1, 1f1b: runs, formulas per stage, consistent" sh -c \
	"timeout 120 '$S' --world 4 --pp 2 --zero 1 --micro-batches 2 --pp-schedule 1f1b --truth '$T/ppdp.json' >/dev/null 2>&1 && python3 '$CK' pp '$T/ppdp.json' && python3 '$CK' consistency '$T/ppdp.json'"
# launcher mode: two ranks joined through the rendezvous directory
mkdir -p "$T/rdv"
( RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 MT_SIM_DEVICES=2 MT_SIM_RENDEZVOUS=$T/rdv MASTER_PORT=1 timeout 120 "$S" --zero 1 --truth "$T/tr.json" >"$T/tr1.out" 2>&1 ) &
RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 MT_SIM_DEVICES=2 MT_SIM_RENDEZVOUS=$T/rdv MASTER_PORT=1 timeout 120 "$S" --zero 1 --truth "$T/tr.json" >"$T/tr0.out" 2>&1
rc0=$?
wait $!
rc1=$?
if [ $rc0 -eq 0 ] && [ $rc1 -eq 0 ] && python3 "$CK" zero "$T/tr.json.rank1.json" 1 >/dev/null 2>&1; then
	ok "launcher mode (RANK/WORLD_SIZE) with a rendezvous directory"
else
	nok "launcher mode (RANK/WORLD_SIZE) with a rendezvous directory ($rc0 $rc1)"
	sed 's/^/# /' "$T/tr0.out" "$T/tr1.out"
fi
check "launcher mode: rank 0 merged both ranks into FILE, per-rank files kept" sh -c \
	"python3 '$CK' merged '$T/tr.json' '$T/tr.json.rank0.json' '$T/tr.json.rank1.json' && python3 '$CK' zero '$T/tr.json' 1"
