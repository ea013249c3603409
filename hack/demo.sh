#!/usr/bin/env bash
# make demo: runs the flagship scenario, apt-ocalypse.feature, on the embedded
# lab and says where the report is. The run always reverts its faults and tears
# its lab down, even on failure or Ctrl-C.
set -euo pipefail
bin=${AFTERSHOCK_BIN:-bin/aftershock}
report=${REPORT_DIR:-reports/out/demo-$(date -u +%Y%m%dT%H%M%SZ)}
start=$(date +%s)
status=0
"$bin" run --tags @flagship --report-dir "$report" || status=$?
echo
echo "demo finished in $(( $(date +%s) - start ))s with exit code $status"
echo "the report is $report/index.html (also summary.md, journal.json, junit.xml, cucumber.json)"
exit "$status"
