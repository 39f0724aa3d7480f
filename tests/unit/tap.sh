# TAP helpers for shell tests: source this, declare the plan, call
# ok/not_ok/check, then done_testing.
#
# Every script declares how many cases it runs BEFORE running them, so that a
# case that vanishes (a renamed JSON key, a checker that died, a loop over
# an empty list) is a failure, not a shorter green run:
#   plan N          prints "1..N" first; the TAP driver fails the script when
#                   it ran fewer or more cases (e.g. it died halfway).
#   expect_cases N  for scripts whose cases are printed before their count is
#                   known to TAP (the plan line then comes last): adds N to
#                   the expected count; done_testing fails the run with a
#                   "not ok" when the count differs.  May be called several
#                   times (e.g. once per python found, before its cases).
# A script that skips prints its planned cases as SKIPs (skip N REASON, or
# skip_rest REASON), never fewer.  done_testing without a plan is a failing
# case (every script of the suite declares one).
_tap_n=0
_tap_failed=0
_tap_plan=""
_tap_expect=""
_tap_py_expect=0   # the plans of tap_py's checkers
plan() { _tap_plan=$1; echo "1..$1"; }
expect_cases() { _tap_expect=$((${_tap_expect:-0} + $1)); }
ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
# A "# TODO reason" in the description marks a known, documented gap: TAP
# counts it as an expected failure, and so does the exit status here.
not_ok() {
  _tap_n=$((_tap_n + 1))
  case "$*" in *"# TODO"*) ;; *) _tap_failed=$((_tap_failed + 1)) ;; esac
  echo "not ok $_tap_n - $*"
}
# check "description" command...: passes when the command succeeds
check() { _d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$_d"; else not_ok "$_d"; fi; }
diag() { printf '# %s\n' "$@"; }
# skip N REASON: N skipped cases
skip() { _s=$1; shift; while [ "$_s" -gt 0 ]; do ok "# SKIP $*"; _s=$((_s - 1)); done; }
# skip_rest REASON: the rest of the plan skipped (`plan`, or what
# `expect_cases` and tap_py's checkers expect so far)
skip_rest() { skip $((${_tap_plan:-$((${_tap_expect:-0} + _tap_py_expect))} - _tap_n)) "$@"; }
# skip_all REASON: the whole script skipped (before any case; needs `plan`
# or `expect_cases`), then exits
skip_all() {
  if [ -z "$_tap_plan" ] && [ "${_tap_expect:-0}" -eq 0 ] && [ "$_tap_n" -eq 0 ]; then
    echo "1..0 # SKIP $*"; exit 0
  fi
  [ -n "$_tap_plan" ] || { _tap_plan=${_tap_expect:-$_tap_n}; echo "1..$_tap_plan"; }
  skip_rest "$@"; done_testing; exit
}
done_testing() {
  if [ -n "$_tap_plan" ]; then
    # the driver compares with the "1..N" printed first; say it here too
    [ "$_tap_n" -eq "$_tap_plan" ] || { diag "planned $_tap_plan cases, ran $_tap_n"; return 1; }
    [ "$_tap_failed" -eq 0 ]
    return
  fi
  if [ -z "$_tap_expect" ]; then
    not_ok "this script declares no plan (plan N or expect_cases N: tests/unit/tap.sh, docs/TESTING.md): a case that vanishes would go unnoticed"
  elif [ "$_tap_n" -ne $((_tap_expect + _tap_py_expect)) ]; then
    not_ok "expected $((_tap_expect + _tap_py_expect)) cases, ran $_tap_n (cases vanished, or ran unplanned)"
  fi
  echo "1..$_tap_n"
  [ "$_tap_failed" -eq 0 ]
}
# tap_lines: reads "ok - DESC" / "not ok - DESC" lines (from checkers that
# do not number their cases) on stdin and numbers them; other lines pass as
# comments.  Run it in this shell (`tap_lines <file`), not in a pipeline.
tap_lines() {
  while IFS= read -r _l; do
    case "$_l" in
    "not ok - "*) not_ok "${_l#not ok - }" ;;
    "ok - "*) ok "${_l#ok - }" ;;
    *) diag "$_l" ;;
    esac
  done
}

# tap_py PYTHON SCRIPT ARGS...: runs a checker written with
# tests/python/taplib.py (its cases numbered on from ours); its "#plan N"
# adds N to the expected count (expect_cases), so a checker that lost
# cases, declared none, or died is a failure.
tap_py() {
  _e=$(mktemp "${TMPDIR:-/tmp}/tap_py.XXXXXX")
  _out=$(TAP_START=$((_tap_n + 1)) PYTHONPATH="${MT_SRCDIR:-.}/tests/python${PYTHONPATH:+:$PYTHONPATH}" "$@" 2>"$_e"); _rc=$?
  printf '%s\n' "$_out" | grep -v '^#count\|^#plan'
  _p=$(printf '%s\n' "$_out" | sed -n 's/^#plan //p' | head -n 1)
  _c=$(printf '%s\n' "$_out" | sed -n 's/^#count //p')
  if [ -n "$_p" ]; then _tap_py_expect=$((_tap_py_expect + _p))
  else
    # no plan: a failing case (below, once its cases are numbered); what
    # it ran is what is expected
    _c0=$(printf '%s\n' "$_out" | sed -n 's/^#count //p'); [ -n "$_c0" ] && _tap_py_expect=$((_tap_py_expect + ${_c0% *} - _tap_n))
  fi
  # no count: killed before taplib could say so (its own crashes print one)
  if [ -z "$_c" ]; then
    not_ok "checker $2 crashed (exit $_rc): $(tail -n 3 "$_e" | tr '\n' ' ')"; rm -f "$_e"; return
  fi
  _tap_n=${_c% *}; _tap_failed=$((_tap_failed + ${_c#* }))
  [ "$_rc" -eq 0 ] || [ "${_c#* }" -gt 0 ] || not_ok "checker $2 exited $_rc after passing: $(tail -n 3 "$_e" | tr '\n' ' ')"
  [ -n "$_p" ] || { _tap_py_expect=$((_tap_py_expect + 1))
    not_ok "checker $2 declares no plan (taplib.plan(N)): a case that vanishes would go unnoticed"; }
  rm -f "$_e"
}

# poll_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or
# SECONDS have passed (1).  Waits on behaviour, never on a fixed sleep.
poll_until() {
  _dl=$(($1 * 10)); shift; _t=0
  until "$@" >/dev/null 2>&1; do
    [ "$_t" -ge "$_dl" ] && return 1
    sleep 0.1; _t=$((_t + 1))
  done
}

# expect_fail CODE NAME PATTERN CMD...: passes when CMD exits CODE with exactly
# one line on stderr matching PATTERN and nothing on stdout (the contract of
# every memtrace command for bad input).  Needs $W, a scratch directory.
expect_fail() {
  code=$1 name=$2 pat=$3; shift 3
  "$@" >"$W/out" 2>"$W/err"; rc=$?
  lines=$(wc -l <"$W/err")
  if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$W/err" && [ ! -s "$W/out" ]; then
    ok "$name"
  else
    not_ok "$name"; diag "exit $rc, $lines stderr lines:"; sed 's/^/#   /' "$W/err"
  fi
}

# need_shared_data DIR: the shared validation data (../shared/validation/data)
# must be there.  In CI (CI=true) its absence fails the script with one
# line; elsewhere (make distcheck, a bare checkout) the script skips its
# planned cases, saying so.  Call after `plan`/`expect_cases`.
need_shared_data() {
  [ -n "${MT_SHARED:-}" ] && [ -d "$1" ] && return 0
  if [ "${CI:-}" = true ]; then
    echo "Bail out! CI=true and the shared validation data is missing: ${1:-MT_SHARED unset} (../shared/validation/data)"
    exit 1
  fi
  skip_all "no shared validation data at ${1:-(MT_SHARED unset)} (outside CI; CI=true requires it)"
}

# tap_from FILE: a checker's "ok - ..." / "not ok - ..." lines as our TAP
# lines (other lines as diagnostics); no such line at all is a failure.
tap_from() {
  grep -q "^ok - \|^not ok - " "$1" || not_ok "the checks ran: $(tail -1 "$1")"
  while IFS= read -r _l; do
    case $_l in
    "ok - "*) ok "${_l#ok - }" ;;
    "not ok - "*) not_ok "${_l#not ok - }" ;;
    *) diag "$_l" ;;
    esac
  done <"$1"
}
