#!/bin/sh
# memtrace-view screenshots checked against a synthetic trace whose curve is
# known (tests/gui/mkviewtrace.c): category colours where the data puts
# them, the peak marker at the recorded peak time, legible text; then the
# real window under xvfb-run, driven by --script.  TAP.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
VIEW="$B/gui/memtrace-view"
MK="$B/tests/gui/mkviewtrace"
PROBE="$B/tests/gui/pngprobe"
T=$(mktemp -d "${TMPDIR:-/tmp}/mtview.XXXXXX")
trap 'rm -rf "$T"' EXIT
# the recent-files list and the timeline cache live in the test's own dirs
XDG_DATA_HOME="$T/data" XDG_CACHE_HOME="$T/cache"
export XDG_DATA_HOME XDG_CACHE_HOME
mkdir -p "$XDG_DATA_HOME" "$XDG_CACHE_HOME"
plan 124   # 13 of them need simtrain, 26 xvfb-run (SKIPs without)

# Palette (docs/VIEWER.md) and furniture colours.
PARAM=0072B2 OPT=009E73 GRAD=E69F00 ACT=CC79A7 WS=56B4E9 CACHE=CFCFCF BG=FFFFFF DARKBG=1E1E1E
RESERVED=303030 BUDGET=C01C28 SEL=3584E4 PENDING=A4A9C2

"$MK" basic "$T/basic.mtrace" || { echo "Bail out! mkviewtrace failed"; exit 1; }
mkdir "$T/run" && "$MK" run "$T/run"

# x of a time in ms, y of a size in GiB, from a layout file written by the viewer
xat() { awk -v t="$1" -v x="$plot_x" -v w="$plot_w" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", x + (t * 1e6 - a) * w / (b - a) }'; }
yat() { awk -v g="$1" -v y="$plot_y" -v h="$plot_h" -v m="$ymax" 'BEGIN { printf "%d", y + h - g * 1073741824 / m * h }'; }
pixel() { "$PROBE" "$1" pixel "$2" "$3"; }
near() { # near RRGGBB RRGGBB TOL
  for sh in 16 8 0; do
    d=$(( ((0x$1 >> sh) & 255) - ((0x$2 >> sh) & 255) ))
    [ $d -le $3 ] && [ $d -ge -$3 ] || return 1
  done
}
colour_at() { # desc png t_ms gib expected
  c=$(pixel "$2" "$(xat "$3")" "$(yat "$4")")
  if near "$c" "$5" 6; then ok "$1"; else not_ok "$1 (got $c at $3 ms, $4 GiB, want $5)"; fi
}
peak_marker() { # desc png expected_ms: the widest dark run in the marker strip
  y=$(awk -v y="$marks_y" 'BEGIN { printf "%d", y + 4 }')
  x0=$(printf '%.0f' "$plot_x"); x1=$(awk -v x="$plot_x" -v w="$plot_w" 'BEGIN { printf "%d", x + w - 1 }')
  run=$("$PROBE" "$2" runs "$y" "$x0" "$x1" "$3" 60 | awk '$2 - $1 + 1 >= 5 { n++; c = ($1 + $2) / 2 } END { if (n == 1) print c; else print "none" }')
  want=$(awk -v t="$4" -v x="$plot_x" -v w="$plot_w" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", x + (t * 1e6 - a) * w / (b - a) }')
  if [ "$run" != none ] && awk -v a="$run" -v b="$want" 'BEGIN { exit !(a - b <= 1.5 && b - a <= 1.5) }'; then
    ok "$1 (x=$run, expected $want)"
  else
    not_ok "$1 (marker at $run, expected $want)"
  fi
}

# 1. headless screenshot of the whole run
if "$VIEW" "$T/basic.mtrace" --screenshot "$T/a.png" --layout "$T/a.layout" --size 1200x700 \
     --range 0ms:100ms --budget 7.5GiB 2>"$T/err"; then ok "--screenshot writes a PNG without a display"
else not_ok "--screenshot failed: $(cat "$T/err")"; fi
check "--screenshot prints no warnings" test ! -s "$T/err"
. "$T/a.layout"
check "screenshot has the requested size" test "$("$PROBE" "$T/a.png" size)" = "1200 700"
check "the viewer reports the recorded peak (45 ms, 7.25 GiB)" test "$peak_ts" = 45000000 -a "$peak_allocated" = 7784628224
colour_at "parameter at the bottom of the stack (35 ms, 1 GiB)" "$T/a.png" 35 1.0 $PARAM
colour_at "optimizer_state above it (35 ms, 2.5 GiB)" "$T/a.png" 35 2.5 $OPT
colour_at "workspace between 3 and 3.25 GiB (35 ms)" "$T/a.png" 35 3.12 $WS
colour_at "activation between 3.25 and 6.25 GiB (35 ms)" "$T/a.png" 35 4.75 $ACT
colour_at "cache_free between allocated and reserved (35 ms, 7.25 GiB)" "$T/a.png" 35 7.25 $CACHE
colour_at "nothing above reserved (35 ms, 9 GiB)" "$T/a.png" 35 9 $BG
colour_at "gradient from 45 ms (55 ms, 3.5 GiB)" "$T/a.png" 55 3.5 $GRAD
colour_at "activation freed at 60 ms (65 ms, 5 GiB is cache_free)" "$T/a.png" 65 5 $CACHE
colour_at "gradient freed at 80 ms (85 ms, 3.5 GiB is cache_free)" "$T/a.png" 85 3.5 $CACHE
colour_at "before the first tensor only the segment (1.5 ms, 1 GiB is cache_free)" "$T/a.png" 1.5 1 $CACHE
peak_marker "peak marker at the recorded peak time" "$T/a.png" 000000 45
yr=$(yat 8.25); x=$(xat 40)
n=$("$PROBE" "$T/a.png" count "$x" $((yr - 2)) "$x" $((yr + 2)) $RESERVED 40)
check "reserved line at 8.25 GiB at 40 ms" test "$n" -ge 1
yb=$(yat 7.5)
n=$("$PROBE" "$T/a.png" count "$(xat 1)" $((yb - 1)) "$(xat 99)" $((yb + 1)) $BUDGET 50)
check "budget line drawn at 7.5 GiB ($n px)" test "$n" -ge 200
set -- $("$PROBE" "$T/a.png" ink 8 "$(printf %.0f "$title_y")" 700 $(awk -v y="$title_y" -v h="$title_h" 'BEGIN { printf "%d", y + h }') 110)
check "title text is legible: ink $1 px high (>= 9)" test "$1" -ge 9
set -- $("$PROBE" "$T/a.png" ink 0 "$(printf %.0f "$lanes_y")" 100 $(awk -v y="$lanes_y" -v h="$lane_h" 'BEGIN { printf "%d", y + h }') 110)
check "lane labels are legible: ink $1 px high (>= 7)" test "$1" -ge 7

# 2. options
"$VIEW" "$T/basic.mtrace" --screenshot "$T/h.png" --layout "$T/h.layout" --size 1200x700 --range 0ms:100ms --hide activation
. "$T/h.layout"
colour_at "--hide activation: the band above drops to cache_free" "$T/h.png" 35 4.75 $CACHE
"$VIEW" "$T/basic.mtrace" --screenshot "$T/d.png" --layout "$T/d.layout" --size 1200x700 --range 0ms:100ms --dark
. "$T/d.layout"
colour_at "--dark: dark background" "$T/d.png" 35 9 $DARKBG
colour_at "--dark: same category colours" "$T/d.png" 35 4.75 $ACT
"$VIEW" "$T/basic.mtrace" --screenshot "$T/p.png" --layout "$T/p.layout" --size 1200x700 --peak
. "$T/p.layout"
check "--peak centres the view on the peak" awk -v a="$t0" -v b="$t1" 'BEGIN { c = (a + b) / 2; exit !(c > 44e6 && c < 46e6 && b - a < 10e6) }'
colour_at "--peak: activation at 44 ms" "$T/p.png" 44 4.75 $ACT
colour_at "--peak: gradient at 46 ms" "$T/p.png" 46 3.5 $GRAD
peak_marker "--peak: marker at 45 ms when zoomed" "$T/p.png" 000000 45

# 2a. the preview: the memory-only first pass the window draws while the
# full analysis runs.  Same allocated/reserved curve, one colour for the
# allocated bytes, the same peak.
"$VIEW" "$T/basic.mtrace" --screenshot "$T/q.png" --layout "$T/q.layout" --size 1200x700 --range 0ms:100ms \
  --preview 2>"$T/err"
check "--preview prints no warnings" test ! -s "$T/err"
. "$T/q.layout"
check "preview: the recorded peak (45 ms, 7.25 GiB)" test "$peak_ts" = 45000000 -a "$peak_allocated" = 7784628224
# allocated (GiB) in the basic trace: 35 ms 6.25, 55 ms 7.0, 65 ms 4.0, 85 ms 3.0; reserved 8 (8.25 at 30..50)
for tg in "35 6.25" "55 7.0" "65 4.0" "85 3.0"; do
  set -- $tg
  lo=$(awk -v g="$2" 'BEGIN { print g - 0.12 }'); hi=$(awk -v g="$2" 'BEGIN { print g + 0.12 }')
  colour_at "preview: allocated up to $2 GiB at $1 ms" "$T/q.png" "$1" "$lo" $PENDING
  colour_at "preview: cache_free just above $2 GiB at $1 ms" "$T/q.png" "$1" "$hi" $CACHE
  colour_at "preview: nothing above reserved at $1 ms" "$T/q.png" "$1" 8.6 $BG
done
peak_marker "preview: peak marker at 45 ms" "$T/q.png" 000000 45
n=0; for c in $PARAM $OPT $GRAD $ACT $WS; do
  n=$((n + $("$PROBE" "$T/q.png" count "$(printf %.0f "$plot_x")" "$(printf %.0f "$plot_y")" 1180 690 $c 6)))
done
check "preview: no category colour is drawn before the categories are known ($n px)" test "$n" -eq 0
# the full analysis's stack ends where the preview's allocated area ends:
# per column, the first pixel below the cache_free band, in both pictures
top_of_stack() { # png x y_from: first y at or below y_from that is neither cache_free nor background
  y=$3
  while [ "$y" -lt $(($3 + 40)) ]; do
    c=$(pixel "$1" "$2" "$y")
    if ! near "$c" $CACHE 6 && ! near "$c" $BG 6 && ! near "$c" $RESERVED 60; then echo "$y"; return; fi
    y=$((y + 1))
  done
  echo none
}
gib_at() { awk -v py="$1" -v y="$plot_y" -v h="$plot_h" -v m="$ymax" 'BEGIN { printf "%.3f", (y + h - py) / h * m / 1073741824 }'; }
for tg in "35 6.25" "55 7.0" "65 4.0" "85 3.0"; do
  set -- $tg
  . "$T/q.layout"
  x=$(xat "$1"); tq=$(top_of_stack "$T/q.png" "$x" "$(yat "$(awk -v g="$2" 'BEGIN { print g + 0.3 }')")")
  gq=$(gib_at "$tq"); pq=$(awk -v m="$ymax" -v h="$plot_h" 'BEGIN { print m / h / 1073741824 }')
  . "$T/a.layout"
  x=$(xat "$1"); tf=$(top_of_stack "$T/a.png" "$x" "$(yat "$(awk -v g="$2" 'BEGIN { print g + 0.3 }')")")
  gf=$(gib_at "$tf"); pf=$(awk -v m="$ymax" -v h="$plot_h" 'BEGIN { print m / h / 1073741824 }')
  check "preview and full analysis: the stack's top at $1 ms is $2 GiB in both ($gq, $gf)" \
    awk -v q="$gq" -v f="$gf" -v g="$2" -v e="$pq" -v e2="$pf" \
      'BEGIN { t = 2 * (e > e2 ? e : e2); d1 = q - g; d2 = f - g; exit !(d1 <= t && -d1 <= t && d2 <= t && -d2 <= t) }'
done
"$VIEW" "$T/basic.mtrace" --bench --no-cache --size 400x300 >"$T/bench" 2>&1; rc=$?
check "--bench runs (rc $rc) and reports the time to the preview frame (--no-cache)" \
  sh -c "test $rc -eq 0 && grep -q '^open to first frame (memory-only preview' '$T/bench' && grep -q '^all  *frames  360' '$T/bench'"

# 2b. what is live at an instant (the window's table, printed)
"$VIEW" "$T/basic.mtrace" --list-live 35ms >"$T/l35" 2>&1
check "live at 35 ms: 4 objects, 6.25 GiB" grep -q "^# live at 35000000 ns: 4 objects, 6710886400 bytes" "$T/l35"
check "live at 35 ms: largest first, activation 3 GiB freed at 60 ms" \
  sh -c "sed -n 3p '$T/l35' | grep -q '^3221225472.*activation.*annotation.*60.0 ms.*activation/layers.0.out'"
check "live at 35 ms: the cuBLAS workspace (device allocation) is listed" grep -q "^268435456.*workspace.*call_site" "$T/l35"
"$VIEW" "$T/basic.mtrace" --list-live 45ms >"$T/l45" 2>&1
check "live at the peak: the analysis's snapshot, 7.25 GiB" grep -q "^# live at 45000000 ns: 5 objects, 7784628224 bytes (the analysis" "$T/l45"
"$VIEW" "$T/basic.mtrace" --list-live 99ms >"$T/l99" 2>&1
check "live at 99 ms: parameters and optimizer state only" grep -q "^# live at 99000000 ns: 2 objects, 3221225472 bytes" "$T/l99"

# 3. a run directory: every rank's peak side by side
if "$VIEW" "$T/run" --screenshot "$T/r.png" --layout "$T/r.layout" --size 1200x700 --all-ranks 2>"$T/err"; then
  ok "run directory, --all-ranks"
  . "$T/r.layout"
  slot=$(awk -v w="$plot_w" 'BEGIN { print w / 2 }')
  c0=$(awk -v x="$plot_x" -v s="$slot" 'BEGIN { printf "%d", x + s * 0.5 }')
  c1=$(awk -v x="$plot_x" -v s="$slot" 'BEGIN { printf "%d", x + s * 1.5 }')
  a0=$("$PROBE" "$T/r.png" count "$c0" 0 "$c0" 699 $ACT 6)
  a1=$("$PROBE" "$T/r.png" count "$c1" 0 "$c1" 699 $ACT 6)
  check "rank 0's activation bar is 3/2 of rank 1's ($a0 px vs $a1 px)" \
    awk -v a="$a0" -v b="$a1" 'BEGIN { exit !(b > 0 && a / b > 1.4 && a / b < 1.6) }'
else
  not_ok "run directory, --all-ranks: $(cat "$T/err")"; not_ok "rank bars"
fi

# 3b. a large job's All ranks: a rank x time heatmap (24 synthetic ranks
# whose generator chose its outliers; the colour map's top, viridis'
# FDE725, only where a rank's allocated bytes near the job's largest peak)
"$B/bench/analyzer-mktrace" --ranks 24 --outliers 3 --seed 7 "$T/run24" 20000 >/dev/null
if "$VIEW" "$T/run24" --screenshot "$T/h.png" --layout "$T/h.layout" --size 1200x700 --all-ranks 2>"$T/err"; then
  ok "24 ranks, --all-ranks"
  . "$T/h.layout"
  top=$(sed -n 's/.*"rank": \([0-9]*\), "peak_allocated": \([0-9]*\).*/\2 \1/p' "$T/run24/truth.json" | sort -n | tail -n 1 | cut -d' ' -f2)
  best=-1 bestn=0 others=0
  for i in $(seq 0 23); do
    y=$(awk -v y="$plot_y" -v h="$plot_h" -v i="$i" 'BEGIN { printf "%d", y + (i + 0.5) * h / 24 }')
    c=$("$PROBE" "$T/h.png" count "$plot_x" "$y" "$(awk -v x="$plot_x" -v w="$plot_w" 'BEGIN { printf "%d", x + w - 1 }')" "$y" FDE725 24)
    if [ "$c" -gt "$bestn" ]; then [ "$best" -ge 0 ] && others=$((others + bestn)); best=$i bestn=$c; else others=$((others + c)); fi
  done
  check "heatmap: only the row of the rank with the largest peak ($top, the generator's) reaches the top colour ($bestn px in row $best, $others elsewhere)" \
    test "$best" = "$top" -a "$others" -eq 0
else
  not_ok "24 ranks, --all-ranks: $(cat "$T/err")"; not_ok "heatmap"
fi

# 4. errors
"$VIEW" "$T/nothing.mtrace" --screenshot "$T/x.png" 2>"$T/err"; rc=$?
check "a missing trace fails with a message (rc $rc)" test $rc -ne 0 -a -s "$T/err"
"$VIEW" "$T/basic.mtrace" --screenshot "$T/x.png" --budget lots 2>"$T/err"; rc=$?
check "a bad --budget is a usage error (rc $rc)" test $rc -eq 2
"$VIEW" "$T/basic.mtrace" --screenshot "$T/x.png" --range 50ms:10ms 2>"$T/err"; rc=$?
check "a reversed --range is a usage error (rc $rc)" test $rc -eq 2

# 4b. a real simulated run (memtrace record over simtrain): the peak the
# viewer marks is simtrain's own ground truth (its --truth file)
SIM="$B/tests/sim/simtrain/simtrain"; COLL="$B/collector/.libs/libmemtrace-collector.so"
if [ -x "$SIM" ] && [ -x "$B/memtrace" ] && [ -f "$COLL" ] && command -v sqlite3 >/dev/null && command -v python3 >/dev/null; then
  LD_LIBRARY_PATH="$B/tests/sim/cublas/.libs:$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs" MEMTRACE_COLLECTOR="$COLL" \
    "$B/memtrace" record -q -o "$T/sim" -- "$SIM" --layers 4 --world 2 --steps 3 --truth "$T/truth.json" >/dev/null 2>&1
  tr0=$(ls "$T"/sim/rank0.*.mtrace 2>/dev/null | head -1)
  if [ -n "$tr0" ] && [ -s "$T/truth.json" ]; then
    set -- $(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["ranks"] if x["rank"]==0][0]; print(r["peak_allocated_bytes"], r["peak_time_ns"])' "$T/truth.json")
    tbytes=$1; tabs=$2
    start=$(sqlite3 "$tr0" "select start_ns from process")
    tms=$(awk -v a="$tabs" -v s="$start" 'BEGIN { printf "%.6f", (a - s) / 1e6 }')
    # +-2 ms: a pixel is ~3.6 us, wider than the gap between simtrain's
    # reading of its clock and the collector's for the same call (at +-0.2 ms
    # a pixel was 0.36 us and a loaded machine put them 2 px apart)
    r0=$(awk -v t="$tms" 'BEGIN { printf "%.6fms", t - 2 }'); r1=$(awk -v t="$tms" 'BEGIN { printf "%.6fms", t + 2 }')
    "$VIEW" "$T/sim" --rank 0 --screenshot "$T/s.png" --layout "$T/s.layout" --size 1200x700 --range "$r0:$r1"
    . "$T/s.layout"
    check "simulated run: the viewer's peak is simtrain's truth ($peak_allocated = $tbytes B)" test "$peak_allocated" = "$tbytes"
    peak_marker "simulated run: peak marker at simtrain's peak time ($tms ms)" "$T/s.png" 000000 "$tms"
    x=$(xat "$tms"); y=$(awk -v g="$tbytes" -v y="$plot_y" -v h="$plot_h" -v m="$ymax" 'BEGIN { printf "%d", y + h - g / m * h }')
    n=$("$PROBE" "$T/s.png" count $((x - 2)) $((y - 2)) $((x + 2)) $((y + 2)) 000000 60)
    check "simulated run: the peak dot sits at simtrain's peak bytes ($n dark px)" test "$n" -ge 6
    # the exact curve at every zoom: sampled as coarsely as a long run is
    # (64 samples over the run), 150 us around the peak, the highest value
    # drawn is still simtrain's peak; so in the whole run
    r0=$(awk -v t="$tms" 'BEGIN { printf "%.6fms", t - 0.075 }'); r1=$(awk -v t="$tms" 'BEGIN { printf "%.6fms", t + 0.075 }')
    "$VIEW" "$T/sim" --rank 0 --no-cache --samples 64 --screenshot "$T/z.png" --layout "$T/z.layout" --size 1200x700 \
      --range "$r0:$r1" 2>"$T/err"
    drawn_max=; stack_max=; stack_at_peak=; hover_at_peak=; . "$T/z.layout"
    check "simulated run: 150 us around the peak, 64 samples, the curve drawn reaches simtrain's peak ($drawn_max = $tbytes B)" \
      test "$drawn_max" = "$tbytes"
    # the stacked categories too (exact per category, drawn at each column's
    # highest instant): their top is the peak, their split simtrain's own
    check "simulated run: 150 us around the peak, 64 samples, the stacked categories reach simtrain's peak ($stack_max = $tbytes B)" \
      test "$stack_max" = "$tbytes"
    want_split=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))["ranks"] if x["rank"]==0][0]
print(",".join("%s=%d" % kv for kv in sorted(r["peak_category_bytes"].items()) if kv[1]))' "$T/truth.json")
    got_split=$(printf '%s\n' "$stack_at_peak" | tr ',' '\n' | grep -v '^cache_free=' | sort | paste -sd, -)
    check "simulated run: the stack drawn at the peak is simtrain's bytes per category ($got_split; truth $want_split)" \
      test -n "$want_split" -a "$got_split" = "$want_split"
    # hovering just under the stack's top at the peak: a category of the
    # truth's, with the truth's bytes (what the drawing shows there)
    check "simulated run: hovering the top band at the peak names simtrain's bytes (${hover_at_peak:-nothing})" \
      sh -c 'case ",$1," in *",$2,"*) [ -n "$2" ] ;; *) false ;; esac' _ "$want_split" "$hover_at_peak"
    drawn_max=; stack_max=; "$VIEW" "$T/sim" --rank 0 --no-cache --samples 64 --screenshot "$T/z2.png" --layout "$T/z2.layout" --size 1200x700
    . "$T/z2.layout"
    check "simulated run: the whole run, 64 samples, drawn maximum is simtrain's peak ($drawn_max = $tbytes B)" \
      test "$drawn_max" = "$tbytes"
    check "simulated run: the whole run, 64 samples, the stacked categories reach simtrain's peak ($stack_max = $tbytes B)" \
      test "$stack_max" = "$tbytes"
    "$VIEW" "$T/sim" --rank 0 --no-cache --peak --screenshot "$T/z3.png" --layout "$T/z3.layout" --size 1200x700
    . "$T/z3.layout"
    check "simulated run: --peak centres on the peak and stays inside the run ($t0..$t1, peak $peak_ts)" \
      awk -v a="$t0" -v b="$t1" -v p="$peak_ts" 'BEGIN { c = (a + b) / 2; exit !(a >= 0 && c - p <= 1 && p - c <= 1) }'
    # --compare aligned by step: a run and its --checkpoint all twin (slower
    # steps: recompute); at this run's peak (step 1) the compare curve drawn
    # is the twin's step-1 peak, as its truth file gives it
    for k in none all; do
      LD_LIBRARY_PATH="$B/tests/sim/cublas/.libs:$B/tests/sim/cuda/.libs:$B/tests/sim/nccl/.libs" MEMTRACE_COLLECTOR="$COLL" \
        "$B/memtrace" record -q -o "$T/ck-$k" -- "$SIM" --layers 4 --steps 3 --checkpoint $k --truth "$T/ck-$k.json" >/dev/null 2>&1
    done
    want=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["ranks"][0]; a=json.load(open(sys.argv[2]))["ranks"][0]
print([s["allocated"] for s in r["step_peaks"] if s["step"] == a["peak_step"]][0])' "$T/ck-all.json" "$T/ck-none.json" 2>/dev/null)
    compare_at_peak=; "$VIEW" "$T/ck-none" --no-cache --compare "$T/ck-all" --peak --screenshot "$T/ck.png" --layout "$T/ck.layout" \
      --size 1200x700 2>"$T/err"
    . "$T/ck.layout"
    check "--compare aligned by step: at the peak the twin's same-step peak is drawn ($compare_at_peak, truth ${want:-?})" \
      test -n "$want" -a "$compare_at_peak" = "$want"
    "$VIEW" "$T/sim" --rank 0 --screenshot "$T/w.png" --layout "$T/w.layout" --size 1200x700 --what-if checkpoint=all 2>"$T/err"
    . "$T/w.layout"
    n=$("$PROBE" "$T/w.png" count "$(printf %.0f "$plot_x")" "$(printf %.0f "$plot_y")" 1180 \
        "$(awk -v y="$plot_y" -v h="$plot_h" 'BEGIN { printf "%d", y + h }')" 5A189A 12)
    check "--what-if checkpoint=all draws the replay's predicted peak ($n px)" test "$n" -ge 300
    mib=$("$B/memtrace" replay "$T/sim" --checkpoint all 2>/dev/null | awk '/predicted +allocated/ { print $3; exit }')
    if [ -n "$mib" ]; then
      y=$(awk -v g="$mib" -v y="$plot_y" -v h="$plot_h" -v m="$ymax" 'BEGIN { printf "%d", y + h - g * 1048576 / m * h }')
      n=$("$PROBE" "$T/w.png" count "$(printf %.0f "$plot_x")" $((y - 1)) 1180 $((y + 1)) 5A189A 12)
      check "the what-if line sits at memtrace replay's predicted peak ($mib MiB, $n px)" test "$n" -ge 300
    else
      not_ok "memtrace replay printed no predicted peak"
    fi
  else
    for d in bytes marker dot exact-zoom stack-zoom stack-split hover-split exact-whole stack-whole centred compare-by-step what-if what-if-value; do not_ok "simulated run did not record ($d)"; done
  fi
else
  for d in "peak bytes" "peak marker" "peak dot" "zoomed exact peak" "zoomed stacked peak" "stacked split at the peak" "hover at the peak" "whole-run exact peak" "whole-run stacked peak" "peak centred" "compare by step" "what-if" "what-if value"; do
    ok "# SKIP simulated run $d: simtrain or the collector not built"
  done
fi

# 4b. the timeline cache ($XDG_CACHE_HOME/memtrace): written by a full
# analysis, drawn at once on the next open, equal to the analysed picture;
# not used once the trace changed, nor when corrupt; rewritten after.
cp "$T/basic.mtrace" "$T/cached.mtrace"
"$VIEW" "$T/cached.mtrace" --cached --screenshot "$T/c0.png" 2>/dev/null
check "cache: none before the first analysis (--cached fails)" test $? -ne 0 -a ! -s "$T/c0.png"
"$VIEW" --bench "$T/cached.mtrace" --size 1200x700 >"$T/b1" 2>&1
check "cache: first open draws the memory-only preview first" grep -q "first frame (memory-only preview" "$T/b1"
check "cache: first open writes the cache" grep -q "timeline cache: none valid: written" "$T/b1"
n=$(ls "$XDG_CACHE_HOME"/memtrace/*.tlc 2>/dev/null | wc -l)
check "cache: it lives in the user's cache dir ($n files)" test "$n" -ge 1
check "cache: nothing written beside the trace" test -z "$(ls "$T" | grep -E '^cached\.mtrace.+' | grep -v -- '-wal$\|-shm$')"
"$VIEW" --bench "$T/cached.mtrace" --size 1200x700 >"$T/b2" 2>&1
check "cache: second open's first frame comes from the cache" grep -q "first frame (cached categorised timeline" "$T/b2"
check "cache: the analysis confirms it" grep -q "analysis agreed with it" "$T/b2"
"$VIEW" "$T/cached.mtrace" --no-cache --screenshot "$T/cf.png" --layout "$T/cf.layout" --size 1200x700
"$VIEW" "$T/cached.mtrace" --cached --screenshot "$T/cc.png" --layout "$T/cc.layout" --size 1200x700
d=$("$PROBE" "$T/cf.png" diff "$T/cc.png")
check "cache: the picture from the cache equals the analysed one ($d pixels differ)" test "$d" = 0
"$VIEW" "$T/cached.mtrace" --cached --peak --dark --screenshot "$T/cc2.png" --size 900x600
"$VIEW" "$T/cached.mtrace" --no-cache --peak --dark --screenshot "$T/cf2.png" --size 900x600
d=$("$PROBE" "$T/cf2.png" diff "$T/cc2.png")
check "cache: equal zoomed on the peak, dark ($d pixels differ)" test "$d" = 0
# modified: a later mtime, set rather than waited for
touch -d "@$(( $(stat -c %Y "$T/cached.mtrace") + 2 ))" "$T/cached.mtrace"
"$VIEW" "$T/cached.mtrace" --cached --screenshot "$T/cs.png" 2>"$T/err"
check "cache: a modified trace's cache is not used" test $? -ne 0 -a ! -s "$T/cs.png"
"$VIEW" --bench "$T/cached.mtrace" --size 1200x700 >"$T/b3" 2>&1
check "cache: stale: the preview is the memory-only pass and the cache is rewritten" \
  sh -c "grep -q 'first frame (memory-only preview' '$T/b3' && grep -q 'none valid: written' '$T/b3'"
"$VIEW" "$T/cached.mtrace" --cached --screenshot "$T/cs.png"
check "cache: rewritten after the trace changed" test $? -eq 0 -a -s "$T/cs.png"
f=$(ls -t "$XDG_CACHE_HOME"/memtrace/*.tlc | head -1)
printf 'XXXX' | dd of="$f" bs=1 seek=4000 conv=notrunc 2>/dev/null
"$VIEW" "$T/cached.mtrace" --cached --screenshot "$T/cx.png" 2>/dev/null
check "cache: a corrupt cache is ignored" test $? -ne 0 -a ! -s "$T/cx.png"
"$VIEW" "$T/cached.mtrace" --screenshot "$T/cx.png"
"$VIEW" "$T/cached.mtrace" --cached --screenshot "$T/cx2.png"
check "cache: a corrupt cache is rewritten by the next analysis" test $? -eq 0 -a -s "$T/cx2.png"
cp "$T/basic.mtrace" "$T/cached2.mtrace"
MT_VIEW_CACHE_MAX=1 "$VIEW" "$T/cached2.mtrace" --screenshot "$T/cy.png"
n=$(ls "$XDG_CACHE_HOME"/memtrace/*.tlc | wc -l)
check "cache: bounded: over MT_VIEW_CACHE_MAX the older files go, the newest stays ($n file)" test "$n" -eq 1
"$VIEW" "$T/cached2.mtrace" --cached --screenshot "$T/cy2.png"
check "cache: the newest is the one kept" test $? -eq 0

# 4b. what-if: the predicted curves where memtrace replay --timeline puts
# them (its JSON, not the viewer's drawing code): points in the middle of
# flat stretches, away from the predicted-peak line; allocated where the
# prediction is at least 256 MiB from the recording (memtrace replay
# without a plan), reserved where it is that far above the predicted
# allocated
"$VIEW" "$T/basic.mtrace" --no-cache --what-if "--micro-batches 2" --screenshot "$T/wc.png" --layout "$T/wc.layout" \
  --size 1200x700 --range 0ms:100ms 2>"$T/err"
"$B/memtrace" replay "$T/basic.mtrace" --micro-batches 2 --timeline 201 --format json >"$T/wc.json"
"$B/memtrace" replay "$T/basic.mtrace" --timeline 201 --format json >"$T/wc0.json"
. "$T/wc.layout"
python3 - "$T/wc.json" "$T/wc0.json" >"$T/wc.points" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
tl, base = d["timeline"], json.load(open(sys.argv[2]))["timeline"]
peak = d["predicted"]["peak_allocated_bytes"]
a, r, a0 = tl["allocated"], tl["reserved"], base["allocated"]
def flat(v, i):
    return 4 <= i < len(v) - 4 and all(v[j] == v[i] for j in range(i - 4, i + 5))
na = nr = 0
for i in range(4, len(a) - 4, 3):
    t = tl["t0_ns"] + i * tl["dt_ns"]
    j = (t - base["t0_ns"]) // base["dt_ns"]   # the recording at t (a plan may stretch the time axis)
    if t > 100e6:
        break
    if na < 4 and flat(a, i) and flat(a0, j) and abs(a[i] - a0[j]) >= 2**28 and a[i] != peak:
        print("allocated", t, a[i]); na += 1
    if nr < 2 and flat(r, i) and flat(a, i) and r[i] - a[i] > 2**29 and r[i] != peak:
        print("reserved", t, r[i]); nr += 1
PY
check "what-if curve: memtrace replay --timeline gave points to check ($(wc -l <"$T/wc.points"))" \
  test "$(grep -c . "$T/wc.points")" -ge 4
while read -r kind t b; do
  x=$(awk -v t="$t" -v x="$plot_x" -v w="$plot_w" -v a="$t0" -v e="$t1" 'BEGIN { printf "%d", x + (t - a) * w / (e - a) }')
  y=$(awk -v g="$b" -v y="$plot_y" -v h="$plot_h" -v m="$ymax" 'BEGIN { printf "%d", y + h - g / m * h }')
  n=$("$PROBE" "$T/wc.png" count $((x - 5)) $((y - 1)) $((x + 5)) $((y + 1)) 5A189A 40)
  check "what-if curve: predicted $kind at $(awk -v t="$t" 'BEGIN { printf "%.2f", t / 1e6 }') ms is drawn at $b B ($n px)" \
    test "$n" -ge 2
done <"$T/wc.points"

# 4c. a plan the job model cannot express is refused by the viewer's
# what-if as memtrace replay refuses it (the same check, its words), with
# no screenshot drawn as if nothing changed
rm -f "$T/wr.png"
"$VIEW" "$T/basic.mtrace" --no-cache --what-if "--zero 3" --screenshot "$T/wr.png" --size 400x300 >/dev/null 2>"$T/err"
rc=$?
"$B/memtrace" replay "$T/basic.mtrace" --zero 3 >/dev/null 2>"$T/rerr"
why=$(sed -n 's/.*: cannot model //p' "$T/rerr")
check "what-if: a plan replay cannot model is refused with replay's reason (rc $rc: $(head -c 200 "$T/err"))" \
  sh -c '[ "$1" -ne 0 ] && [ -n "$2" ] && [ ! -e "$3" ] && grep -qF "cannot model $2" "$4"' - "$rc" "$why" "$T/wr.png" "$T/err"

# 5. the real application under Xvfb, driven through its actions
if command -v xvfb-run >/dev/null 2>&1; then
  # a damaged (truncated) trace: the main area says why, the trace's actions are off
  head -c 8192 "$T/basic.mtrace" >"$T/damaged.mtrace"
  GSK_RENDERER=cairo timeout 60 xvfb-run -a -s "-screen 0 1400x1000x24" \
    "$VIEW" "$T/damaged.mtrace" --no-cache --size 800x600 --script "wait 300;quit" >"$T/dout" 2>/dev/null
  check "damaged trace: the main area shows the error, not 'analysing'" grep -q "main area: .*truncated trace" "$T/dout"
  check "damaged trace: Go to Peak and What-if disabled" grep -q "go-to-peak disabled; what-if disabled" "$T/dout"
  # wait-idle: until the window has no task pending and has painted since
  # (60 s deadline), not a fixed guess of how fast this machine draws
  script="go-to-peak;wait-idle 60000;screenshot $T/w1.png;layout $T/w1.layout;select-row 0;wait-idle 60000;screenshot $T/w2.png;layout $T/w2.layout;select-range 50ms:70ms;wait-idle 60000;quit"
  MT_VIEW_PREVIEW_TIME=1 GSK_RENDERER=cairo timeout 120 xvfb-run -a -s "-screen 0 1400x1000x24" \
    "$VIEW" "$T/basic.mtrace" --no-cache --size 1300x900 --script "$script" >"$T/xout" 2>&1; rc=$?
  check "the window opens, runs the script and quits (rc $rc)" test $rc -eq 0 -a -s "$T/w1.png"
  check "window: the memory-only preview was drawn before the full analysis" grep -q "^preview drawn after" "$T/xout"
  if [ -s "$T/w1.layout" ]; then
    . "$T/w1.layout"
    peak_marker "window: peak marker at 45 ms after go-to-peak" "$T/w1.png" 000000 45
    colour_at "window: activation at 44 ms" "$T/w1.png" 44 4.75 $ACT
    colour_at "window: gradient at 46 ms" "$T/w1.png" 46 3.5 $GRAD
    colour_at "window: parameter at 44 ms" "$T/w1.png" 44 1 $PARAM
  else
    for i in 1 2 3 4; do not_ok "window layout missing"; done
  fi
  if [ -s "$T/w2.layout" ]; then
    . "$T/w2.layout"
    y=$(awk -v y="$marks_y" -v h="$marks_h" 'BEGIN { printf "%d", y + h - 2 }')
    c=$(pixel "$T/w2.png" "$(xat 44)" "$y")
    if near "$c" "$SEL" 40; then ok "window: selecting the largest live object marks its lifetime (20..60 ms)"
    else not_ok "window: lifetime bar missing at 44 ms (got $c)"; fi
  else
    not_ok "window: second layout missing"
  fi
  # xvfb-run gives no session bus; GApplication says so, harmlessly
  if grep -v "session bus" "$T/xout" | grep -q "CRITICAL\|WARNING"; then
    not_ok "no GTK warnings: $(grep -v 'session bus' "$T/xout" | grep -m3 'CRITICAL\|WARNING')"
  else ok "no GTK warnings or criticals"; fi

  # what-if chosen inside the window (win.what-if, as the popover does): the
  # replay's predicted peak, as `memtrace replay --format json` gives it,
  # drawn dotted at its height; a bad plan is refused and changes nothing
  want=$("$B/memtrace" replay "$T/basic.mtrace" --zero 3 --world 4 --format json |
    sed -n 's/.*"predicted": {"peak_allocated_bytes": \([0-9]*\).*/\1/p')
  MT_VIEW_PREVIEW_TIME=1 GSK_RENDERER=cairo timeout 120 xvfb-run -a -s "-screen 0 1400x1000x24" \
    "$VIEW" "$T/basic.mtrace" --size 1300x900 \
    --script "what-if --zero 3 --world 4;wait-idle 60000;layout $T/wi.layout;screenshot $T/wi.png;what-if --bogus 1;wait-idle 60000;layout $T/wi2.layout;show-what-if;recommend 7GiB;wait-idle 60000;pick-plan 0;wait-idle 60000;layout $T/wi3.layout;quit" \
    >"$T/wout" 2>&1; rc=$?
  check "what-if: the window replays the chosen plan and quits (rc $rc)" \
    sh -c "test $rc -eq 0 && grep -q '^what-if drawn: --zero 3 --world 4: predicted peak' '$T/wout'"
  if [ -s "$T/wi.layout" ] && [ -n "$want" ]; then
    . "$T/wi.layout"
    check "what-if: the predicted peak is memtrace replay's ($what_if_peak, want $want)" test "$what_if_peak" = "$want"
    y=$(awk -v y="$plot_y" -v h="$plot_h" -v m="$ymax" -v b="$want" 'BEGIN { printf "%d", y + h - b / m * h }')
    x0=$(printf '%.0f' "$plot_x"); x1=$(awk -v x="$plot_x" -v w="$plot_w" 'BEGIN { printf "%d", x + w - 1 }')
    n=$( { "$PROBE" "$T/wi.png" runs "$y" "$x0" "$x1" 5A189A 40; "$PROBE" "$T/wi.png" runs $((y + 1)) "$x0" "$x1" 5A189A 40; } | wc -l)
    check "what-if: dotted violet line at the predicted peak's height (y=$y: $n dots)" test "$n" -ge 50
  else
    not_ok "what-if: layout missing or memtrace replay gave nothing ($want)"; not_ok "what-if: no line to check"
  fi
  check "what-if: a plan that is not one is refused, the prediction stays" \
    sh -c "grep -q 'bogus: what-if: not a replay option' '$T/wout' && grep -q '^what_if_peak=$want\$' '$T/wi2.layout'"
  # picking memtrace recommend's first plan for 7 GiB in the window
  "$B/memtrace" recommend "$T/basic.mtrace" --budget 7GiB --format json >"$T/rec.json"
  first=$(sed -n 's/^[^[]*\[{"options": "\([^"]*\)".*/\1/p' "$T/rec.json")
  fpeak=$(sed -n 's/^[^[]*\[{[^}]*"peak_allocated_bytes": \([0-9]*\).*/\1/p' "$T/rec.json")
  check "what-if: recommend in the window lists memtrace recommend's first plan ($first)" \
    grep -q "^recommend: [0-9]* plans, first: $first\$" "$T/wout"
  check "what-if: picking it draws its predicted peak ($fpeak)" \
    sh -c "test -n '$fpeak' && grep -q '^what_if_peak=$fpeak\$' '$T/wi3.layout' && grep -q '^what-if drawn: $first:' '$T/wout'"
  if grep -v "session bus" "$T/wout" | grep -q "CRITICAL\|WARNING"; then
    not_ok "what-if: no GTK warnings: $(grep -v 'session bus' "$T/wout" | grep -m3 'CRITICAL\|WARNING')"
  else ok "what-if: no GTK warnings or criticals (popover shown)"; fi

  # Recent menu: what the viewer opened (newest first), a run directory
  # another program recorded; not a text file, not a trace that is gone.
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  bm() { # uri mime app
    echo "<bookmark href=\"$1\" added=\"$now\" modified=\"$now\" visited=\"$now\"><info><metadata owner=\"http://freedesktop.org\"><mime:mime-type type=\"$2\"/><bookmark:applications><bookmark:application name=\"$3\" exec=\"$3\" modified=\"$now\" count=\"1\"/></bookmark:applications></metadata></info></bookmark>"
  }
  echo notes >"$T/notes.txt"
  { echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<xbel version="1.0" xmlns:bookmark="http://www.freedesktop.org/standards/desktop-bookmarks" xmlns:mime="http://www.freedesktop.org/standards/shared-mime-info">'
    bm "file://$T/run" inode/directory nautilus
    bm "file://$T/notes.txt" text/plain gedit
    bm "file://$T/gone.mtrace" application/octet-stream x
    echo '</xbel>'; } >"$XDG_DATA_HOME/recently-used.xbel"
  cp "$T/basic.mtrace" "$T/other.mtrace"
  # (the sleeps here: GtkRecentManager keeps visit times in whole seconds,
  # and the menu's order is by them; not a wait for the window)
  sleep 1
  GSK_RENDERER=cairo timeout 60 xvfb-run -a -s "-screen 0 1400x1000x24" "$VIEW" "$T/other.mtrace" --size 900x600 \
    --script "wait 300;quit" >"$T/rout1" 2>&1
  sleep 1
  MT_VIEW_PREVIEW_TIME=1 GSK_RENDERER=cairo timeout 60 xvfb-run -a -s "-screen 0 1400x1000x24" "$VIEW" "$T/basic.mtrace" --size 900x600 \
    --script "wait 300;recent-menu $T/recent1;open-recent $T/other.mtrace;wait 1500;quit" >"$T/rout2" 2>&1; rc=$?
  check "recent: the window runs the Recent menu's script and quits (rc $rc)" test $rc -eq 0
  got=$(cut -f2 "$T/recent1" 2>/dev/null | tr '\n' ' ')
  check "recent: menu lists basic, other, run (newest first), no text file, no missing trace: $got" \
    test "$got" = "$T/basic.mtrace $T/other.mtrace $T/run "
  check "window: a trace analysed before opens with the cached categorised timeline first" \
    grep -q "^preview drawn after .* (the timeline cache, categorised)" "$T/rout2"
  check "recent: menu labels name the file and its directory" grep -q "^basic.mtrace — " "$T/recent1"
  got=$("$VIEW" --list-recent | tr '\n' ' ')
  check "recent: opening from the menu makes it the newest (--list-recent: $got)" \
    test "$got" = "$T/other.mtrace $T/basic.mtrace $T/run "
  if grep -v "session bus" "$T/rout1" "$T/rout2" | grep -q "CRITICAL\|WARNING"; then
    not_ok "recent: no GTK warnings: $(grep -v 'session bus' "$T/rout1" "$T/rout2" | grep -m3 'CRITICAL\|WARNING')"
  else ok "recent: no GTK warnings or criticals"; fi

  # the empty window (no trace) offers the same Recent menu; opening from it
  # replaces it with the trace's window, which runs the rest of the script
  sleep 1
  GSK_RENDERER=cairo timeout 60 xvfb-run -a -s "-screen 0 1400x1000x24" "$VIEW" --size 900x600 \
    --script "wait 300;recent-menu $T/recent2;screenshot $T/e1.png;open-recent $T/basic.mtrace;layout $T/e2.layout;quit" \
    >"$T/rout3" 2>&1; rc=$?
  check "empty window: runs the script and quits (rc $rc), shown before a trace" test $rc -eq 0 -a -s "$T/e1.png"
  got=$(cut -f2 "$T/recent2" 2>/dev/null | tr '\n' ' ')
  check "empty window: the Recent menu lists other, basic, run: $got" \
    test "$got" = "$T/other.mtrace $T/basic.mtrace $T/run "
  check "empty window: opening from Recent hands the script to the trace's window" grep -q "^peak_ts=45000000" "$T/e2.layout"
  got=$("$VIEW" --list-recent | tr '\n' ' ')
  check "empty window: what it opened is the newest (--list-recent: $got)" \
    test "$got" = "$T/basic.mtrace $T/other.mtrace $T/run "
  if grep -v "session bus" "$T/rout3" | grep -q "CRITICAL\|WARNING"; then
    not_ok "empty window: no GTK warnings: $(grep -v 'session bus' "$T/rout3" | grep -m3 'CRITICAL\|WARNING')"
  else ok "empty window: no GTK warnings or criticals"; fi
else
  for d in "window opens" "window preview" "window peak marker" "window activation" "window gradient" "window parameter" \
           "window lifetime bar" "no GTK warnings" "recent menu script" "recent menu order" "recent labels" \
           "recent newest" "recent warnings" "window cached preview" "empty window script" "empty window recent" \
           "empty window hands over" "empty window newest" "empty window warnings" "what-if script" \
           "what-if peak" "what-if line" "what-if refused" "what-if recommend" "what-if pick" "what-if warnings"; do
    ok "# SKIP $d: xvfb-run not installed"
  done
fi
done_testing
