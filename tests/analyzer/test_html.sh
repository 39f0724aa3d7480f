#!/bin/sh
# The HTML report is one self-contained file: rendered by headless Chromium
# with the network off, its screenshot is not blank, and the DOM Chromium
# built holds the SVG timeline (stacked category paths, the peak marker)
# and the tables.  Skipped (TAP SKIP) only when no chromium is installed.
. "${MT_SRCDIR:-.}/tests/unit/tap.sh"
B=${MT_BUILDDIR:-.}
MT=$B/memtrace
W=$(mktemp -d /tmp/mt-html-XXXXXX)
trap 'rm -rf "$W"' EXIT
CHROME=""
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && { CHROME=$c; break; }
done
if [ -z "$CHROME" ]; then
  echo "1..0 # SKIP no chromium (scripts/install-deps.sh installs it)"
  exit 0
fi
plan 9
"$B/tests/unit/mktrace" basic "$W/basic.mtrace"
"$MT" report --format html -o "$W/report.html" "$W/basic.mtrace"
check "report.html written" test -s "$W/report.html"
check "self-contained: no external resources" sh -c "! grep -Eq '<(script|link|img)[^>]+(src|href)=' '$W/report.html'"
flags="--headless --no-sandbox --disable-gpu --no-first-run --disable-extensions --user-data-dir=$W/profile \
  --proxy-server=127.0.0.1:9 --proxy-bypass-list=<-loopback>"
# shellcheck disable=SC2086
timeout 120 "$CHROME" $flags --dump-dom "file://$W/report.html" >"$W/dom.html" 2>"$W/chrome.err"
check "chromium parsed the page (DOM dumped)" test -s "$W/dom.html"
check "DOM: the SVG timeline" grep -q '<svg class="timeline"' "$W/dom.html"
check "DOM: stacked category areas" grep -q 'class="cat-parameter"' "$W/dom.html"
check "DOM: the peak marker" grep -q 'class="peak"' "$W/dom.html"
check "DOM: tables" sh -c "test \$(grep -c '<table>' '$W/dom.html') -ge 3"
# shellcheck disable=SC2086
timeout 120 "$CHROME" $flags --window-size=1200,900 --screenshot="$W/shot.png" "file://$W/report.html" \
  >/dev/null 2>>"$W/chrome.err"
check "screenshot taken" test -s "$W/shot.png"
# not blank: decode the PNG and count distinct colours (stdlib only)
check "screenshot is not blank (many colours, some non-white pixels)" python3 - "$W/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, w, h, ct = 8, b'', 0, 0, 0
while pos < len(data):
    n, typ = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b'IHDR':
        w, h, depth, ct = struct.unpack('>IIBB', body[:10])
    elif typ == b'IDAT':
        idat += body
    pos += 12 + n
bpp = {2: 3, 6: 4}[ct]
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, nonwhite = set(), 0
i = 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, stride, bpp * 4):
            px = bytes(line[x:x + 3]); colours.add(px)
            if px != b'\xff\xff\xff': nonwhite += 1
assert len(colours) >= 8 and nonwhite > 500, (len(colours), nonwhite)
PY
done_testing
