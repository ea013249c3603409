#!/usr/bin/env bash
# Fails if anything aftershock creates is still on this machine: an as-*
# network namespace, a lab process (etcd, kube-apiserver,
# kube-controller-manager, aftershock-agent or aftershock-service started by
# aftershock), a lab veth in the host's namespace, a kind node container or
# region network (labelled aftershock.io/run), or a run folder under the
# state roots. Run it after the tests (make test) and after every soak
# iteration; it changes nothing.
#
# Usage: hack/leakcheck.sh [RUN...]   exit 0 when clean, 1 with a list of leaks
#        With run IDs, only what those lab runs left counts (on a machine
#        that other labs share); without, anything of any lab does (CI).
# Env:   AFTERSHOCK_STATE_ROOTS  space-separated state roots to check, every
#                                run folder in them counting whatever the run IDs
#                                (default: /tmp/aftershock, $TMPDIR/aftershock and
#                                their -kind siblings)
set -uo pipefail

runs=("$@")
leaks=()
leak() { leaks+=("$*"); }

# mine reports whether s (a namespace name, a command line, a path) belongs
# to the runs checked: any lab when no run was given.
mine() {
  [[ ${#runs[@]} -eq 0 ]] && return 0
  local r
  for r in "${runs[@]}"; do
    [[ $1 == *"as-$r-"* || $1 == *"/$r/"* || $1 == *"/$r" ]] && return 0
  done
  return 1
}

# Named network namespaces of labs: as-<run>-<node>, as-<run>-fabric.
declare -A lab_nets=() # "net:[inode]" of each, to know their processes
if [[ -d /run/netns ]]; then
  for ns in /run/netns/as-*; do
    [[ -e $ns ]] && mine "${ns##*/}" || continue
    leak "namespace ${ns##*/}"
    ino=$(stat -c %i "$ns" 2>/dev/null) && lab_nets["net:[$ino]"]=1
  done
fi

# Lab processes. A process counts when its program is one the lab runs and it
# is either in a network namespace other than the host's (a lab node, named or
# not) or its command line names aftershock (its lab folder); processes in
# containers (kind nodes, other tools' clusters) are not the lab's.
host_net=$(readlink /proc/self/ns/net)
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
  cmdline=$( { tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null) || continue
  [[ -n $cmdline ]] || continue # kernel threads, zombies
  prog=${cmdline%% *}
  prog=${prog##*/}
  case $prog in
    etcd | kube-apiserver | kube-controller-manager | aftershock-agent | aftershock-service) ;;
    *) continue ;;
  esac
  if grep -qE 'docker|containerd|kubepods|libpod|lxc' "$dir/cgroup" 2>/dev/null; then
    continue
  fi
  net=$(readlink "$dir/ns/net" 2>/dev/null) || continue
  if [[ -n ${lab_nets[$net]:-} ]] || { [[ $net != "$host_net" || $cmdline == *aftershock* ]] && mine "$cmdline"; }; then
    leak "process $pid ($prog, ${net:-?}): ${cmdline:0:160}"
  fi
done

# Lab veths in the host's namespace: the lab never puts one there, so any
# as-* link, or a veth whose peer is in an as-* namespace, is a leak.
if command -v ip >/dev/null 2>&1; then
  while read -r line; do
    name=$(awk -F': ' '{print $2}' <<<"$line")
    name=${name%%@*}
    if [[ $name == as-* || $line == *"link-netns as-"* ]] && mine "$name ${line##*link-netns }"; then
      leak "host link $name"
    fi
  done < <(ip -o -d link show 2>/dev/null)
fi

# kind node containers (kind labels them with their cluster, as-<run>-…) and
# region networks (labelled with the run).
if command -v docker >/dev/null 2>&1 && timeout 20 docker version >/dev/null 2>&1; then
  while read -r name cluster; do
    [[ $cluster == as-* ]] && mine "$cluster" && leak "kind container $name (cluster $cluster)"
  done < <(docker ps -a --filter label=io.x-k8s.kind.cluster --format '{{.Names}} {{.Label "io.x-k8s.kind.cluster"}}' 2>/dev/null)
  while read -r name; do
    [[ $name == as-* ]] && mine "$name" && leak "docker network $name"
  done < <(docker network ls --filter label=aftershock.io/run --format '{{.Name}}' 2>/dev/null)
fi

# Run folders under the state roots.
roots=${AFTERSHOCK_STATE_ROOTS:-"/tmp/aftershock ${TMPDIR:-/tmp}/aftershock /tmp/aftershock-kind ${TMPDIR:-/tmp}/aftershock-kind"}
declare -A seen=()
for root in $roots; do
  [[ -n ${seen[$root]:-} ]] && continue
  seen[$root]=1
  [[ -d $root ]] || continue
  for run in "$root"/*; do
    [[ -e $run ]] || continue
    # Roots given explicitly are the caller's own: all of them counts.
    [[ -n ${AFTERSHOCK_STATE_ROOTS:-} ]] || mine "$run" || continue
    leak "run folder $run"
  done
done

if [[ ${#leaks[@]} -gt 0 ]]; then
  echo "leakcheck: ${#leaks[@]} leak(s):" >&2
  printf '  %s\n' "${leaks[@]:0:40}" >&2
  [[ ${#leaks[@]} -gt 40 ]] && echo "  ... and $((${#leaks[@]} - 40)) more" >&2
  echo "leakcheck: remove them with: aftershock cleanup --all (or aftershock lab down --all)" >&2
  exit 1
fi
echo "leakcheck: clean (no as-* namespace, lab process, lab veth, kind container or network, or run folder)"
