#!/usr/bin/env bash
# Builds Kubernetes binaries from the Go module proxy into the aftershock cache
# folder, $AFTERSHOCK_CACHE/kube/<version>/bin, with the real version stamped
# through ldflags: by default kube-apiserver and kube-controller-manager, the
# lab's; hack/kind-build-kube.sh asks for a kind node's.
#
# A throwaway wrapper module requires k8s.io/kubernetes at KUBE_VERSION and
# replaces every k8s.io/* staging module with the matching v0.x release, because
# k8s.io/kubernetes' own go.mod points them at ./staging, which a dependency
# cannot use. Nothing already built is rebuilt; each binary is moved into place
# only once it is whole.
#
# Usage: hack/build-kube.sh [component...]   (prints the bin folder on its last line)
# Env:   KUBE_VERSION (default from hack/versions.env), AFTERSHOCK_CACHE,
#        KUBE_WRAPPER (the wrapper folder's name, so that two builds can run at once)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/versions.env
source "$here/versions.env"
cache=${AFTERSHOCK_CACHE:-"$here/../.cache"}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

version=${KUBE_VERSION}
bin="$cache/kube/$version/bin"
if [[ $# -gt 0 ]]; then
  components=("$@")
else
  components=(kube-apiserver kube-controller-manager)
fi

say() { printf '[build-kube] %s\n' "$*" >&2; }

missing=()
for c in "${components[@]}"; do
  [[ -x "$bin/$c" ]] || missing+=("$c")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  say "${components[*]} $version already built in $bin"
  echo "$bin"
  exit 0
fi

minor_version="v0.${version#v1.}"   # v1.36.3 -> v0.36.3
major=1
minor=$(echo "$version" | cut -d. -f2)
work="$cache/kube/$version/${KUBE_WRAPPER:-wrapper}"
mkdir -p "$work" "$bin"

say "resolving k8s.io/kubernetes@$version from the Go module proxy"
gomod=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[[ -f "$gomod" ]] || { say "could not download k8s.io/kubernetes@$version"; exit 1; }

{
  echo "module aftershock.local/kube-build-${KUBE_WRAPPER:-wrapper}"
  echo
  echo "go $(go env GOVERSION | sed 's/^go//' | cut -d. -f1,2)"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$minor_version"'#p' "$gomod"
  echo ")"
} >"$work/go.mod"
say "wrapper module pins $(grep -c '=>' "$work/go.mod") staging modules at $minor_version"

stamp() {
  local key=$1 val=$2
  printf -- "-X 'k8s.io/client-go/pkg/version.%s=%s' -X 'k8s.io/component-base/version.%s=%s' " \
    "$key" "$val" "$key" "$val"
}
ldflags="-s -w $(stamp gitVersion "$version") $(stamp gitMajor "$major") $(stamp gitMinor "$minor")"
ldflags+="$(stamp gitTreeState clean) $(stamp buildDate "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"

pkgs=()
for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
say "building ${missing[*]} $version (12 minutes for the lab's two, 20-30 for a kind node's, on 2 cores when cold; progress below)"
start=$(date +%s)
(
  cd "$work"
  say "downloading modules"
  GOFLAGS=-mod=mod go mod download
  # Build into a private folder and move each binary into place when done, so
  # a reader never sees a half-written binary.
  out="$work/out"
  mkdir -p "$out"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -v -trimpath -ldflags "$ldflags" -o "$out/" "${pkgs[@]}" 2>&1 \
    | awk -v every=200 '{ n++; if (n % every == 0) printf "[build-kube] compiled %d packages, now %s\n", n, $0 > "/dev/stderr" }'
  rc=${PIPESTATUS[0]}
  for c in "${missing[@]}"; do
    [[ -x "$out/$c" ]] && mv -f "$out/$c" "$bin/$c"
  done
  exit "$rc"
)
for c in "${missing[@]}"; do
  [[ -x "$bin/$c" ]] || { say "build of $c failed"; exit 1; }
done
say "built ${missing[*]} in $(( $(date +%s) - start ))s: $("$bin/${missing[0]}" --version 2>/dev/null || true)"
echo "$bin"
