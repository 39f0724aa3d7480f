#!/bin/sh
# memtrace record --simulate-gpus N -- mpirun ...: a DDP job started by Open
# MPI's mpirun, whose script takes its rank, world size and local rank from
# OMPI_COMM_WORLD_* and sets MASTER_ADDR itself (no RANK anywhere), checked
# rank by rank as in test_simulate.sh (peaks equal torch's to the byte, the
# local rank's device); each trace's rank comes from the launcher's
# environment.  The other launchers' variables (PMI_*, SLURM_*) on a
# one-process simtrain job.
. "${MT_SRCDIR:-.}/tests/python/common.sh"
# PMI, Slurm; the mpirun job (and check_simulate.py's plan), its ranks' source
expect_cases 4
ST=$(cd "${MT_BUILDDIR:-.}/tests/sim/simtrain" && pwd -P)/simtrain
MTA=$(cd "$(dirname "$MT")" && pwd -P)/memtrace
# launcher VAR=VALUE...: a simtrain process with that launcher's environment
# (and no RANK), recorded; memtrace info's rank, world size, local rank, source
launcher() {
  d=$TMP/env-$1; shift
  env -u RANK -u WORLD_SIZE -u LOCAL_RANK "$@" "$MTA" record -q --simulate-gpus 1 -o "$d" -- \
    "$ST" --layers 1 --hidden 64 --heads 2 --seq 16 --batch 1 --vocab 64 --steps 1 >"$TMP/out" 2>"$TMP/err" \
    || { echo "the job failed: $(tail -n 3 "$TMP/err")"; return; }
  "$MTA" info --json "$d" | "$PLAIN" -c "
import json, sys
i = json.load(sys.stdin); r = i.get('ranks', [i])
print(' '.join('%s/%s/%s/%s' % (x['rank'], x['world_size'], x['local_rank'], x['rank_source']) for x in r))"
}
r=$(launcher pmi PMI_RANK=5 PMI_SIZE=8 MPI_LOCALRANKID=1)
[ "$r" = "5/8/1/environment" ] && ok "PMI_RANK/PMI_SIZE/MPI_LOCALRANKID (MPICH, Intel MPI): rank 5 of 8, local rank 1, from the environment" \
  || not_ok "PMI launcher: $r"
r=$(launcher slurm SLURM_PROCID=6 SLURM_NTASKS=16 SLURM_LOCALID=2)
[ "$r" = "6/16/2/environment" ] && ok "SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID (srun): rank 6 of 16, local rank 2, from the environment" \
  || not_ok "Slurm launcher: $r"
if ! command -v mpirun >/dev/null 2>&1; then
  skip_rest "no mpirun (Open MPI: sh scripts/install-deps.sh)"
  done_testing; exit
fi
. "$SRC/tests/python/simulate_env.sh"
dist ddp mpirun
r=$("$MT" info --json "$TMP/ddp-mpirun" 2>&1 | "$PLAIN" -c "
import json, sys
i = json.load(sys.stdin)
print(sorted((x['rank'], x['world_size'], x['local_rank'], x['rank_source']) for x in i.get('ranks', [i])))")
[ "$r" = "[(0, 2, 0, 'environment'), (1, 2, 1, 'environment')]" ] \
  && ok "under mpirun each trace's rank, world size and local rank come from OMPI_COMM_WORLD_* (the environment)" \
  || not_ok "mpirun ranks: $r"
done_testing
