#!/usr/bin/env bash
# Builds the offline kind node image (hack/build-kind-node-image.sh) where a
# Docker engine answers, and says so where none does: the kind tests then
# skip with that reason. It also raises the inotify limits that every kind
# node container draws on (kind's own advice; docs/kind.md, "Host
# requirements") when they are below what the kind tests need.
#
#   hack/kind-image.sh                build it if a Docker engine answers
#   hack/kind-image.sh --require-env  print AFTERSHOCK_REQUIRE_KIND=1 (for
#                                     `env`) if an engine answers, so that
#                                     the kind tests fail rather than skip
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

engine() { command -v docker >/dev/null 2>&1 && timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [[ ${1:-} == --require-env ]]; then
  if engine; then echo env AFTERSHOCK_REQUIRE_KIND=1; else echo env; fi
  exit 0
fi
if ! engine; then
  echo "[kind-image] no Docker engine answers: the kind tests will skip, saying so" >&2
  exit 0
fi
raise() { # sysctl minimum
  local now
  now=$(sysctl -n "$1" 2>/dev/null) || return 0
  if ((now < $2)); then
    echo "[kind-image] raising $1 from $now to $2 for kind node containers" >&2
    sysctl -qw "$1=$2"
  fi
}
raise fs.inotify.max_user_instances 512
raise fs.inotify.max_user_watches 524288
"$here/build-kind-node-image.sh" >/dev/null
