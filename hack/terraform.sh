#!/usr/bin/env bash
# Finds a Terraform binary for aftershock's Terraform provider and prints its
# path on the last line of stdout; progress goes to stderr.
#
# Looks, in order, at: $AFTERSHOCK_TERRAFORM (an explicit path, terraform or
# tofu); terraform on PATH; tofu (OpenTofu) on PATH; the cache folder
# ${AFTERSHOCK_CACHE:-.cache}/terraform/<version>/bin. If none is there, it
# builds Terraform from the Go module proxy into that cache folder:
#   go install github.com/hashicorp/terraform@v1.5.7
# v1.5.7 is the last release under the MPL; building it takes about 7 minutes
# on 2 cores when cold, and is cached afterwards.
#
# Usage: hack/terraform.sh           find, or build if missing
#        hack/terraform.sh --build   build into the cache even if one is on PATH
# Env:   AFTERSHOCK_TERRAFORM, AFTERSHOCK_CACHE, TERRAFORM_VERSION (default v1.5.7)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${TERRAFORM_VERSION:-v1.5.7}
cache=${AFTERSHOCK_CACHE:-"$here/../.cache"}
force_build=false
case "${1:-}" in
  --build) force_build=true ;;
  "") ;;
  *) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac

say() { printf '[terraform] %s\n' "$*" >&2; }

found() {
  say "using $1 ($("$1" version 2>/dev/null | head -1))"
  echo "$1"
  exit 0
}

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
bin="$cache/terraform/$version/bin"

if ! $force_build; then
  if [[ -n ${AFTERSHOCK_TERRAFORM:-} ]]; then
    [[ -x $AFTERSHOCK_TERRAFORM ]] || { say "AFTERSHOCK_TERRAFORM=$AFTERSHOCK_TERRAFORM is not an executable file"; exit 1; }
    found "$AFTERSHOCK_TERRAFORM"
  fi
  for name in terraform tofu; do
    if p=$(command -v "$name" 2>/dev/null); then
      found "$p"
    fi
  done
fi
if [[ -x $bin/terraform ]]; then
  found "$bin/terraform"
fi

command -v go >/dev/null 2>&1 || { say "no terraform or tofu on PATH, and no Go toolchain to build one"; exit 1; }
if $force_build; then
  say "building github.com/hashicorp/terraform@$version into $bin (--build)"
else
  say "no terraform or tofu found: building github.com/hashicorp/terraform@$version into $bin"
fi
say "(the last MPL release; about 7 minutes on 2 cores when cold, cached afterwards; progress below)"
mkdir -p "$bin"
start=$(date +%s)
(
  # Outside any module, so that only terraform's own go.mod counts.
  cd "$cache"
  GOBIN="$bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 GO111MODULE=on \
    go install -v -trimpath -ldflags "-s -w" "github.com/hashicorp/terraform@$version" 2>&1 \
    | awk -v every=100 '
        /^go: downloading / { d++; if (d % 50 == 0) printf "[terraform] downloaded %d modules, now %s\n", d, $3 > "/dev/stderr"; next }
        /^[A-Za-z0-9._~\/-]+$/ { n++; if (n % every == 0) printf "[terraform] compiled %d packages, now %s\n", n, $0 > "/dev/stderr"; next }
        { print "[terraform] " $0 > "/dev/stderr" }'
  exit "${PIPESTATUS[0]}"
)
[[ -x $bin/terraform ]] || { say "build of terraform $version failed"; exit 1; }
say "built in $(( $(date +%s) - start ))s: $("$bin/terraform" version | head -1)"
echo "$bin/terraform"
