#!/usr/bin/env bash
# make soak: runs the flagship feature (bin/aftershock run --tags @flagship)
# N times in a row, checking for leaks after every run, and reports the pass
# count, the leaks (must be 0), the wall-time spread and the runner's peak RSS
# per run with its growth from the first run to the last (must be flat).
#
# Each run has a TMPDIR of its own, so its lab's state root is the soak's;
# after each run the leak check looks for what that run's lab (named in its
# injection journal) left anywhere on the machine, and for anything in the
# soak's state root, so that other labs on a shared machine do not count.
#
# Usage: hack/soak.sh [N]            (default N=20)
# Env:   SOAK_RUNS=N, SOAK_TAGS (default @flagship), AFTERSHOCK_BIN (default
#        bin/aftershock), SOAK_DIR (default reports/out/soak-<time>), and
#        SOAK_MAX_RSS_GROWTH (percent, default 25) above which RSS growth fails.
# Exit:  0 when every run passed, nothing leaked and RSS stayed flat.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=${1:-${SOAK_RUNS:-20}}
tags=${SOAK_TAGS:-@flagship}
bin=${AFTERSHOCK_BIN:-bin/aftershock}
dir=${SOAK_DIR:-reports/out/soak-$(date -u +%Y%m%dT%H%M%SZ)}
max_growth=${SOAK_MAX_RSS_GROWTH:-25}
say() { printf '[soak] %s\n' "$*" >&2; }

[[ $runs =~ ^[1-9][0-9]*$ ]] || { say "N must be a positive whole number, not '$runs'"; exit 2; }
[[ -x $bin ]] || { say "$bin not found: make build"; exit 2; }
[[ -x /usr/bin/time ]] || { say "/usr/bin/time (GNU time) is needed for the runner's peak RSS: apt-get install time"; exit 2; }
mkdir -p "$dir/tmp"
dir=$(cd "$dir" && pwd)
tmp="$dir/tmp" # every run's TMPDIR: its labs live in $tmp/aftershock
if ! before=$("$here/leakcheck.sh" 2>&1); then
  say "note: labs from before the soak are on this machine (not counted):"
  sed 's/^/[soak]   /' <<<"$before" | head -5 >&2
fi

csv="$dir/soak.csv"
echo "run,exit,seconds,max_rss_kb,leaks" >"$csv"
passed=0
leaked=0
times=()
rss=()
say "$runs runs of $tags with $bin; reports and logs in $dir"
for i in $(seq 1 "$runs"); do
  out="$dir/run-$i"
  start=$(date +%s.%N)
  TMPDIR=$tmp /usr/bin/time -v -o "$out.time" "$bin" run --tags "$tags" --report-dir "$out" >"$out.log" 2>&1
  status=$?
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  # The run's labs, as its injection journals name them.
  labs=$(cat "$out"/*.jsonl 2>/dev/null | grep -o '"netns":"/run/netns/as-[a-z0-9]*-' | sed 's/.*as-//; s/-$//' | sort -u)
  leaks=0
  # shellcheck disable=SC2086 # one argument per lab run ID
  if ! AFTERSHOCK_STATE_ROOTS="$tmp/aftershock" "$here/leakcheck.sh" ${labs:-__none__} >"$out.leaks" 2>&1; then
    leaks=$(grep -c '^  ' "$out.leaks")
    leaked=$((leaked + leaks))
  fi
  [[ $status -eq 0 ]] && passed=$((passed + 1))
  times+=("$secs")
  rss+=("${kb:-0}")
  echo "$i,$status,$secs,${kb:-0},$leaks" >>"$csv"
  printf '[soak] run %d/%d: exit %d in %.1fs, runner max RSS %d MB, leaks %d\n' \
    "$i" "$runs" "$status" "$secs" "$(( ${kb:-0} / 1024 ))" "$leaks" >&2
  if [[ $leaks -gt 0 ]]; then
    sed 's/^/[soak]   /' "$out.leaks" >&2
  fi
done

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
tmin=$(head -1 <<<"$sorted")
tmax=$(tail -1 <<<"$sorted")
tmed=$(awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}' <<<"$sorted")
rsorted=$(printf '%s\n' "${rss[@]}" | sort -n)
first=${rss[0]}
last=${rss[${#rss[@]}-1]}
growth=$(awk -v a="$first" -v b="$last" 'BEGIN { if (a > 0) printf "%+.1f", (b - a) * 100 / a; else print "n/a" }')

summary="$dir/summary.txt"
{
  echo "soak: $runs runs of $tags ($bin)"
  echo "  passed:          $passed/$runs"
  echo "  leaks:           $leaked"
  printf '  wall time:       min %.1fs, median %.1fs, max %.1fs\n' "$tmin" "$tmed" "$tmax"
  printf '  runner max RSS:  first %d MB, last %d MB (%s%%), min %d MB, max %d MB\n' \
    "$((first / 1024))" "$((last / 1024))" "$growth" "$(( $(head -1 <<<"$rsorted") / 1024 ))" "$(( $(tail -1 <<<"$rsorted") / 1024 ))"
  echo "  per run:         $csv"
} | tee "$summary"

status=0
if [[ $passed -ne $runs ]]; then
  say "FAIL: $((runs - passed)) run(s) failed; see $dir/run-*.log"
  status=1
fi
if [[ $leaked -ne 0 ]]; then
  say "FAIL: $leaked leak(s); see $dir/run-*.leaks"
  status=1
fi
if awk -v g="$growth" -v m="$max_growth" 'BEGIN { exit !(g != "n/a" && g + 0 > m + 0) }'; then
  say "FAIL: the runner's peak RSS grew $growth% from the first run to the last (more than $max_growth%)"
  status=1
fi
exit "$status"
