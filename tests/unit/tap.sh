# TAP helpers for shell tests: source this, call ok/not_ok/check, then done_testing.
_tap_n=0
_tap_failed=0
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
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

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
