#!/usr/bin/env bash
# make report-screenshot [REPORT=reports/out/<run>]: renders a run's
# index.html in headless Chromium (Debian's chromium package) to index.png
# beside it. Without REPORT, the newest report under reports/out is used.
set -euo pipefail
report=${REPORT:-$(ls -1dt reports/out/*/ 2>/dev/null | head -1)}
report=${report%/}
if [[ -z "$report" || ! -f "$report/index.html" ]]; then
  echo "no report to render: run make demo first, or pass REPORT=reports/out/<run>" >&2
  exit 1
fi
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$browser" ]] || { echo "chromium is missing: make deps installs it" >&2; exit 1; }
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1400,2400 --screenshot="$report/index.png" "file://$(cd "$report" && pwd)/index.html" 2>/dev/null
echo "screenshot: $report/index.png"
