#!/usr/bin/env bash
# make demo: brings a preset lab up, shows its status, and always tears it
# down again, even on failure or Ctrl-C.
set -euo pipefail
bin=${AFTERSHOCK_BIN:-bin/aftershock}
preset=${PRESET:-three-regions}
run=demo$$
down() { "$bin" lab down --run "$run" >/dev/null 2>&1 || true; }
trap down EXIT INT TERM
"$bin" lab up --preset "$preset" --run "$run"
"$bin" lab status --run "$run"
down
trap - EXIT
echo "demo done: lab $run came up with every node Ready and was torn down"
