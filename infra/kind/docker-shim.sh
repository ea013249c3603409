#!/usr/bin/env bash
# A `docker` wrapper for kind on engines that refuse --privileged.
#
# Some sandboxes (this lab's VM among them) start dockerd without
# CAP_SYS_RESOURCE in its capability bounding set. Docker 20.10 asks runc for
# every capability it knows when a container is --privileged, so runc fails
# with "unable to apply caps: operation not permitted". kind always runs its
# node containers --privileged, and its Go API calls the `docker` it finds on
# PATH, so the aftershock kind provider (infra/kind, which embeds this file)
# writes it into the run's state folder and puts that first on PATH while
# kind creates clusters.
#
# For `docker exec --privileged …` on such an engine it drops the flag (kind
# execs privileged; the process still gets the container's capabilities).
# For `docker run … --privileged …` it swaps --privileged
# for what it grants minus the missing capability: every other capability,
# no masked or read-only /proc paths, every device allowed in the device
# cgroup, /dev/kmsg and /dev/fuse. Such a container gets its cgroup v1
# hierarchies read-only; the aftershock node image's entrypoint remounts them
# read-write. Every other command passes through unchanged.
set -euo pipefail

self_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
real=""
IFS=: read -r -a path_dirs <<<"${PATH}"
for d in "${path_dirs[@]}"; do
  [[ -z $d ]] && continue
  [[ $(cd "$d" 2>/dev/null && pwd) == "$self_dir" ]] && continue
  if [[ -x "$d/docker" ]]; then real="$d/docker"; break; fi
done
[[ -n $real ]] || { echo "kind-docker-shim: no real docker on PATH" >&2; exit 127; }

# lacks_sys_resource is true when this process (and so, on this host, the
# engine) cannot hold CAP_SYS_RESOURCE (bit 24). AFTERSHOCK_DOCKER_SHIM=always
# or =never overrides the check.
lacks_sys_resource() {
  case ${AFTERSHOCK_DOCKER_SHIM:-auto} in
    always) return 0 ;;
    never) return 1 ;;
  esac
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd >> 24 & 1) == 0 ))
}

if [[ ${1:-} == run || ${1:-} == exec ]] && lacks_sys_resource; then
  args=()
  for a in "$@"; do
    if [[ $a == --privileged || $a == --privileged=true ]]; then
      # exec: the process gets the container's own (already widened) set.
      [[ $1 == exec ]] && continue
      args+=(--cap-add=ALL --cap-drop=SYS_RESOURCE
        --security-opt=systempaths=unconfined
        --device-cgroup-rule='a *:* rwm'
        --device=/dev/kmsg)
      [[ -e /dev/fuse ]] && args+=(--device=/dev/fuse)
    else
      args+=("$a")
    fi
  done
  exec "$real" "${args[@]}"
fi
exec "$real" "$@"
