#!/usr/bin/env python3
"""Checks of a simtrain truth file against external formulas (ORACLES.md
sections 1 and 3, computed here from the config, not read from simtrain) and
internal consistency.  usage: check_truth.py CHECK FILE [ARGS]; exit 0 = pass."""
import json
import sys


def load(p):
    with open(p) as f:
        return json.load(f)


def fail(msg):
    print(msg)
    sys.exit(1)


def dims(d):
    c = d["config"]
    return c["seq"], c["batch"] // c["micro_batches"], c["hidden"], c["heads"], c["layers"], c


def per_layer(d):
    return d["ranks"][0]["layer_saved_activation_bytes"]


def expect_layers(d, want, what):
    got = per_layer(d)
    if any(g != want for g in got):
        fail("%s: layers %s, want %d each" % (what, got, want))


def act_none(d):
    s, b, h, a, L, c = dims(d)
    assert c["dtype"] == "bf16"
    expect_layers(d, s * b * h * 34 + 5 * a * s * s * b, "no parallelism")


def act_full(d):
    s, b, h, a, L, c = dims(d)
    expect_layers(d, 2 * s * b * h, "full recompute")


def act_selective(d):
    s, b, h, a, L, c = dims(d)
    expect_layers(d, 34 * s * b * h, "selective recompute")


def act_sp(d):
    s, b, h, a, L, c = dims(d)
    t = c["sp"]
    want = s * b * h * 34 // t + 5 * a * s * s * b // t
    for r in d["ranks"]:
        got = r["layer_saved_activation_bytes"]
        if any(g != want for g in got):
            fail("rank %d: %s, want %d" % (r["rank"], got, want))


def zero(d, stage):
    P, c = d["parameters"], d["config"]
    nd = c["dp"] * (c["sp"] if c["sp_kind"] == "ulysses" else 1)
    f = {0: 16 * P, 1: 4 * P + 12 * P / nd, 2: 2 * P + 14 * P / nd, 3: 16 * P / nd}[stage]
    for r in d["ranks"]:
        got = r["model_state_bytes"]
        if abs(got - f) > 0.001 * f:
            fail("rank %d: model states %d, formula %.0f" % (r["rank"], got, f))
        if P % nd == 0 and got != f:
            fail("rank %d: model states %d, formula %.0f (Psi divisible by Nd)" % (r["rank"], got, f))


def consistency(d):
    for r in d["ranks"]:
        cats = r["peak_category_bytes"]
        if sum(cats.values()) != r["peak_allocated_bytes"]:
            fail("rank %d: categories %d != peak %d" % (r["rank"], sum(cats.values()), r["peak_allocated_bytes"]))
        ts = r["tensors"]
        if not ts:
            continue
        ev = []
        for t in ts:
            ev.append((t["alloc_ns"], t["bytes"], t["category"]))
            if t["free_ns"] >= 0:
                if t["free_ns"] <= t["alloc_ns"]:
                    fail("tensor %d freed before allocated" % t["id"])
                ev.append((t["free_ns"], -t["bytes"], t["category"]))
        ev.sort()
        cur, peak, at = 0, -1, None
        bycat = {}
        for ns, db, cat in ev:
            cur += db
            bycat[cat] = bycat.get(cat, 0) + db
            if cur > peak:
                peak, at, snap = cur, ns, dict(bycat)
        if peak != r["peak_allocated_bytes"] or at != r["peak_time_ns"]:
            fail("rank %d: replayed peak %d at %s, truth %d at %d" % (r["rank"], peak, at, r["peak_allocated_bytes"], r["peak_time_ns"]))
        for k, v in cats.items():
            if snap.get(k, 0) != v:
                fail("rank %d: replayed %s %d at peak, truth %d" % (r["rank"], k, snap.get(k, 0), v))
        e = r["events"]
        outside = sum(1 for t in ts if t["outside"])
        inside = len(ts) - outside
        if e["region_register"] != inside:
            fail("rank %d: %d regions registered, %d allocator tensors" % (r["rank"], e["region_register"], inside))
        freed_inside = sum(1 for t in ts if not t["outside"] and t["free_ns"] >= 0)
        if e["region_unregister"] != freed_inside:
            fail("rank %d: %d regions unregistered, %d freed" % (r["rank"], e["region_unregister"], freed_inside))
        if e["alloc"] != r["segments_created"] + outside:
            fail("rank %d: events.alloc %d != segments %d + outside %d" % (r["rank"], e["alloc"], r["segments_created"], outside))
        if e["heap_register"] != r["segments_created"]:
            fail("rank %d: heaps %d != segments %d" % (r["rank"], e["heap_register"], r["segments_created"]))
        if r["nccl_comm_allocs"] != sum(1 for t in ts if t["category"] == "communication" and t["outside"]):
            fail("rank %d: nccl allocs mismatch" % r["rank"])
        sp = r["step_peaks"]
        if max(x["allocated"] for x in sp) > r["peak_allocated_bytes"]:
            fail("step peak above the peak")


def ck_drop(base, ck):
    s, b, h, a, L, c = dims(base)
    full = s * b * h * 34 + 5 * a * s * s * b
    want = L * (full - 2 * s * b * h)
    r0, r1 = base["ranks"][0], ck["ranks"][0]

    def live_act(r):  # requested bytes of activations live at the peak instant
        t0 = r["peak_time_ns"]
        return sum(t["requested"] for t in r["tensors"] if t["category"] == "activation"
                   and t["alloc_ns"] <= t0 and (t["free_ns"] < 0 or t["free_ns"] > t0))
    got = live_act(r0) - live_act(r1)
    if r0["peak_range"] != r1["peak_range"] or got != want:
        fail("activation drop %d at %s/%s, want %d" % (got, r0["peak_range"], r1["peak_range"], want))
    if not r1["peak_allocated_bytes"] < r0["peak_allocated_bytes"]:
        fail("peak did not drop")


def oom(d, cap):
    o = d.get("oom")
    if not o or o["requested_bytes"] <= 0 or o["reserved_bytes"] > cap or o["allocated_bytes"] > o["reserved_bytes"]:
        fail("bad oom record %s" % o)
    if o["reserved_bytes"] + o["requested_bytes"] <= cap and o["requested_bytes"] < 2 << 20:
        fail("oom although the request fits: %s" % o)


def driverlog(d, log, dtype):
    """Events of a single-rank truth = what the simulated driver logged
    (MT_SIM_LOG): every launch (simtrain's and cuBLAS's), every device
    allocation and free; the workspace is cuBLAS's own allocation."""
    lines = open(log).read().splitlines()
    r = d["ranks"][0]
    e = r["events"]
    launches = [l for l in lines if " launch name=" in l]
    n_alloc = sum(1 for l in lines if " alloc kind=sync" in l)
    n_free = sum(1 for l in lines if " free kind=sync" in l)
    if e["kernel"] != len(launches) or e["alloc"] != n_alloc or e["free"] != n_free:
        fail("truth kernel/alloc/free %d/%d/%d, driver log %d/%d/%d" % (
            e["kernel"], e["alloc"], e["free"], len(launches), n_alloc, n_free))
    want = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_" if dtype == "bf16" else "ampere_sgemm_128x64_"
    blas = [l for l in launches if "name=" + want in l]
    if not blas:
        fail("no cuBLAS kernels named %s* in the driver log" % want)
    ws = [t for t in r["tensors"] if t["category"] == "workspace"]
    if len(ws) != r["workspace_allocs"] or len(ws) != 1 or not ws[0]["outside"]:
        fail("workspace tensors %s, workspace_allocs %d" % (ws, r["workspace_allocs"]))
    if not any(" alloc kind=sync" in l and "size=%d " % ws[0]["bytes"] in l + " " for l in lines):
        fail("no device allocation of %d bytes in the driver log" % ws[0]["bytes"])


def stage_activation_peak(r, lo, hi):
    """Max over time of the requested bytes of live activation tensors of
    layers lo..hi-1 (what a stage keeps for backward)."""
    ev = []
    for t in r["tensors"]:
        if t["category"] == "activation" and lo <= t["layer"] < hi:
            ev.append((t["alloc_ns"], t["requested"]))
            if t["free_ns"] >= 0:
                ev.append((t["free_ns"], -t["requested"]))
    ev.sort()
    cur = peak = 0
    for _, db in ev:
        cur += db
        peak = max(peak, cur)
    return peak


def pp(d):
    """Pipeline: per stage, peak saved activations = layers of the stage x
    s b h (34 + 5 a s / h) (ORACLES 3, micro-batch b) x micro-batches in
    flight: M for GPipe, min(pp - stage, M) for 1F1B."""
    s, b, h, a, L, c = dims(d)
    P, M = c["pp"], c["micro_batches"]
    assert c["dtype"] == "bf16" and c["sp"] == 1 and c["checkpoint"] == "none"
    f = s * b * h * 34 + 5 * a * s * s * b
    for r in d["ranks"]:
        st = r["pp_stage"]
        lo, hi = st * L // P, (st + 1) * L // P
        if r["stage_layers"] != [lo, hi]:
            fail("rank %d: stage layers %s, want [%d, %d]" % (r["rank"], r["stage_layers"], lo, hi))
        inflight = M if c["pp_schedule"] == "gpipe" else min(P - st, M)
        want = (hi - lo) * f * inflight
        got = stage_activation_peak(r, lo, hi)
        if got != want:
            fail("rank %d stage %d %s: peak saved activations %d, want %d x %d x %d = %d" % (
                r["rank"], st, c["pp_schedule"], got, hi - lo, f, inflight, want))
        if c["dp"] == 1:
            nb = (st > 0) + (st < P - 1)
            if r["events"]["nccl"] != c["steps"] * 2 * M * nb:
                fail("rank %d: %d NCCL calls, want %d" % (r["rank"], r["events"]["nccl"], c["steps"] * 2 * M * nb))
        for k in range(L):
            if (lo <= k < hi) != (r["layer_saved_activation_bytes"][k] == f):
                fail("rank %d: layer_saved_activation_bytes %s" % (r["rank"], r["layer_saved_activation_bytes"]))


def pp_cmp(g, o):
    """1F1B's first stage keeps fewer activations and peaks lower than GPipe's."""
    def first(d):
        r = [x for x in d["ranks"] if x["pp_stage"] == 0][0]
        return stage_activation_peak(r, *r["stage_layers"]), r["peak_allocated_bytes"]
    ga, gp = first(g)
    oa, op = first(o)
    if not (oa < ga and op < gp):
        fail("stage 0: 1f1b activations %d / peak %d, gpipe %d / %d" % (oa, op, ga, gp))


def merged(d, *parts):
    """Launcher mode: FILE holds every rank's object exactly as its own
    FILE.rank<r>.json has it, in rank order."""
    if d["world_size"] != len(parts) or len(d["ranks"]) != len(parts):
        fail("merged world %d, %d ranks, %d files" % (d["world_size"], len(d["ranks"]), len(parts)))
    for i, p in enumerate(parts):
        one = load(p)
        if one["config"] != d["config"] or one["ranks"] != [d["ranks"][i]] or d["ranks"][i]["rank"] != i:
            fail("rank %d differs between %s and the merged file" % (i, p))


def evo(d):
    """Evoformer: saved bytes per block = the closed form of README.md
    (Evoformer), from the modelled ops; c = 32 channels per head / OPM
    hidden, 8 MSA heads, 4 pair heads (the model's documented constants).
    Checkpointed blocks keep only their two inputs."""
    c = d["config"]
    s, r, m, z = c["msa_seqs"], c["residues"], c["c_m"], c["c_z"]
    ab = 2 if c["dtype"] == "bf16" else 4
    C, HM, HZ = 32, 8, 4
    full = ab * (7 * s * r * m + 10 * s * r * HM * C + HM * s * r * (r + s) + 2 * s * r * C
                 + r * r * C * C + 15 * r * r * z + 8 * HZ * C * r * r + 2 * HZ * r ** 3)
    inputs = ab * (s * r * m + r * r * z)
    spec = c["checkpoint"]
    for k, got in enumerate(d["ranks"][0]["layer_saved_activation_bytes"]):
        ck = spec == "all" or (spec.startswith("every:") and k % int(spec[6:]) == 0)
        want = inputs if ck else full
        if got != want:
            fail("block %d: saved %d, closed form %d" % (k, got, want))


def main():
    what, f = sys.argv[1], sys.argv[2]
    d = load(f)
    if what == "zero":
        zero(d, int(sys.argv[3]))
    elif what == "merged":
        merged(d, *sys.argv[3:])
    elif what == "pp_cmp":
        pp_cmp(d, load(sys.argv[3]))
    elif what == "ck_drop":
        ck_drop(d, load(sys.argv[3]))
    elif what == "driverlog":
        driverlog(d, sys.argv[3], sys.argv[4])
    elif what == "oom":
        oom(d, int(sys.argv[3]))
    else:
        globals()[what](d)


main()
