#!/usr/bin/env bash
# make bench: prints the figures the issues ask for. Benchmarks run once each
# (-benchtime 1x): every iteration is a whole lab, not a micro-operation.
set -euo pipefail
say() { printf '\n### %s\n' "$*"; }

say "lab bring-up, teardown, memory and CPU (issue 2)"
go test -count=1 -run '^$' -bench 'BenchmarkLab' -benchtime 1x -timeout 30m ./infra/lab/

say "networkd-restart fan-out versus iproute2 subprocesses (issue 3)"
go test -count=1 -run '^$' -bench 'Fanout' -benchtime 1x -timeout 10m ./experiments/fault/

say "NotReady detection latency over the grace period (issue 3)"
go test -count=1 -run '^$' -bench 'DetectionLatency' -benchtime 1x -timeout 10m ./experiments/scenario/

say "cloud API emulator, unthrottled, and one service shard (issue 4)"
go test -count=1 -run '^$' -bench 'APIUnthrottled' -benchtime 2s ./infra/cloud/ | grep -E 'cloud emulator|calls/s'
go test -count=1 -run '^$' -bench 'ShardQuery' -benchtime 2s ./infra/service/ | grep -E '^Benchmark'

say "replacement pipeline throughput against its limits (issue 4)"
go test -count=1 -run '^$' -bench 'ReplacementThroughput' -benchtime 1x -timeout 10m ./infra/cloud/ | grep -E '^replacement pipeline'

say "prober throughput and CPU on the lab (issue 4)"
go test -count=1 -run '^$' -bench 'ProberThroughput' -benchtime 1x -timeout 10m ./experiments/scenario/ | grep -E '^prober'

say "kind: time to a Ready topology, per cluster, and the kind/lab ratio (issue 8)"
hack/kind-image.sh # builds the node image where a Docker engine answers
if docker image inspect aftershock/kind-node:v1.36.3 >/dev/null 2>&1; then
  AFTERSHOCK_AGENT=$PWD/bin/aftershock-agent go test -count=1 -run '^$' -bench '^BenchmarkUp$' -benchtime 1x -timeout 40m ./infra/kind/ | grep -vE '^(goos|goarch|pkg|cpu|PASS|ok)'
else
  echo "skipped: no Docker engine answers"
fi

say "wall time of make demo with the binaries cached (issue 3)"
start=$(date +%s%N)
hack/demo.sh >/dev/null 2>&1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf 'make demo (flagship scenario, binaries cached): %d.%03d s\n' $((ms / 1000)) $((ms % 1000))
