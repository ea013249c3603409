#!/usr/bin/env bash
# Proves (or disproves) that this machine's Docker engine can run a privileged,
# systemd-based kind-style node container with a working nested containerd.
#
# It debootstraps a minimal Debian bookworm rootfs (systemd, containerd, runc,
# dbus, iproute2, busybox-static, ...), imports it with `docker import`, runs it
# with the flags sigs.k8s.io/kind v0.33.0 uses for a node (privileged,
# --cgroupns=private, --tmpfs /run /tmp, /var volume, /lib/modules ro,
# /sbin/init as PID 1, container=docker) and checks, from the inside:
#   - systemd reaches "running" or "degraded";
#   - /dev/kmsg exists;
#   - cgroups are writable (mkdir in every v1 hierarchy);
#   - containerd starts, imports a FROM-scratch image of a static busybox and
#     runs a container from it (ctr run), which exercises nested runc + cgroups.
# Every command and its output go to $AFTERSHOCK_CACHE/kind-feasibility.log.
# The container is removed at the end (also on failure); the image stays.
#
# Usage: hack/kind-feasibility.sh
# Env:   AFTERSHOCK_CACHE (default .cache), KEEP=1 keeps the container.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AFTERSHOCK_CACHE:-"$here/../.cache"}
mkdir -p "$cache/kind/feas"
cache=$(cd "$cache" && pwd)
log="$cache/kind-feasibility.log"
work="$cache/kind/feas"
rootfs="$work/rootfs"
image=aftershock/kind-feasibility:bookworm
testimg=aftershock/kind-feasibility-busybox:scratch
name=aftershock-kind-feasibility

say() { printf '[kind-feasibility] %s\n' "$*" >&2; printf '\n## %s\n' "$*" >>"$log"; }
# run logs a command and its combined output, and returns its exit code.
run() {
  printf '$ %s\n' "$*" >>"$log"
  local rc=0
  "$@" >>"$log" 2>&1 || rc=$?
  printf '[exit %d]\n' "$rc" >>"$log"
  return "$rc"
}
# node_sh runs a shell snippet inside the node container.
node_sh() { run docker exec "$name" bash -c "$1"; }
verdict() { say "VERDICT: $*"; printf '[kind-feasibility] see %s\n' "$log" >&2; }
cleanup() {
  [[ ${KEEP:-} == 1 ]] && return
  docker rm -f "$name" >/dev/null 2>&1 || true
}
trap cleanup EXIT

printf '# kind feasibility log, %s, host %s\n' "$(date -u +%FT%TZ)" "$(uname -r)" >"$log"

say "host Docker engine"
run docker info --format 'server {{.ServerVersion}} cgroup v{{.CgroupVersion}} driver {{.CgroupDriver}} storage {{.Driver}} runtime {{.DefaultRuntime}}'

pkgs=systemd,systemd-sysv,dbus,containerd,runc,iproute2,iptables,kmod,procps,util-linux,mount
pkgs+=,ca-certificates,busybox-static,libseccomp2,conntrack,ethtool,socat,ebtables
pkgs+=,containernetworking-plugins,nftables,udev
if [[ ! -x "$rootfs/usr/bin/containerd" ]]; then
  say "debootstrap bookworm rootfs"
  command -v debootstrap >/dev/null || run apt-get install -y -qq debootstrap || exit 1
  mkdir -p "$cache/kind/debs"
  start=$(date +%s)
  run debootstrap --variant=minbase --cache-dir="$cache/kind/debs" --include="$pkgs" \
    bookworm "$rootfs" http://deb.debian.org/debian || { verdict "debootstrap failed"; exit 1; }
  say "debootstrap took $(( $(date +%s) - start ))s"
else
  say "rootfs already in $rootfs (delete it to rebuild)"
fi

say "prepare rootfs as kind's base image does (trim units, mask binfmt)"
run chroot "$rootfs" bash -c '
  set -e
  find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
  rm -f /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
        /lib/systemd/system/sockets.target.wants/*initctl*
  systemctl mask systemd-binfmt.service systemd-udevd.service systemd-modules-load.service >/dev/null
  systemctl enable containerd.service >/dev/null
  echo "kind-feasibility" >/etc/hostname
  mkdir -p /etc/containerd
  containerd config default >/etc/containerd/config.toml
  # without --privileged Docker mounts the cgroup v1 hierarchies read-only: make them writable
  cat >/usr/local/bin/aftershock-node-init <<'"'"'EOS'"'"'
#!/bin/sh
for m in $(findmnt -rn -t cgroup -O ro -o target); do mount -o remount,bind,rw "$m"; done
exec "$@"
EOS
  chmod 0755 /usr/local/bin/aftershock-node-init
  systemctl list-unit-files containerd.service --no-legend'

if ! docker image inspect "$image" >/dev/null 2>&1; then
  say "docker import the rootfs"
  start=$(date +%s)
  printf '$ tar -C %s -c . | docker import --change ... - %s\n' "$rootfs" "$image" >>"$log"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENTRYPOINT ["/sbin/init"]' --change 'ENV container=docker' \
    - "$image" >>"$log" 2>&1 || { verdict "docker import failed"; exit 1; }
  say "import took $(( $(date +%s) - start ))s"
fi

say "a FROM-scratch image holding only a static busybox, built by the host engine"
mkdir -p "$work/busybox"
cp "$rootfs/bin/busybox" "$work/busybox/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n' >"$work/busybox/Dockerfile"
run docker build -q -t "$testimg" "$work/busybox" || { verdict "docker build FROM scratch failed"; exit 1; }
run docker save -o "$work/busybox.tar" "$testimg"

say "run the node container exactly the way kind v0.33.0 does (--privileged)"
docker rm -f "$name" >/dev/null 2>&1 || true
kind_flags=(--hostname "$name" --detach --tty
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined
  --cgroupns=private --init=false --restart=on-failure:1
  --tmpfs /tmp --tmpfs /run --volume /var --volume /lib/modules:/lib/modules:ro
  -e container=docker)
privileged_ok=0
if run docker run --name "$name" --privileged "${kind_flags[@]}" "$image"; then
  privileged_ok=1
else
  say "--privileged failed: why (capability bounding sets; bit 24 is CAP_SYS_RESOURCE)"
  run grep -H CapBnd /proc/self/status "/proc/$(pidof dockerd)/status"
  run capsh --decode="$(awk '/CapBnd/ {print $2}' "/proc/$(pidof dockerd)/status")"
  run docker run --rm --privileged "$testimg" true
  run docker run --rm --cap-add ALL --cap-drop SYS_RESOURCE "$testimg" sh -c 'grep CapBnd /proc/self/status'
  docker rm -f "$name" >/dev/null 2>&1 || true
  say "run the node as --privileged minus CAP_SYS_RESOURCE (what infra/kind/docker-shim.sh does for kind)"
  run docker run --name "$name" \
    --cap-add ALL --cap-drop SYS_RESOURCE --security-opt systempaths=unconfined \
    --device-cgroup-rule 'a *:* rwm' --device /dev/kmsg --device /dev/fuse \
    "${kind_flags[@]}" --entrypoint /usr/local/bin/aftershock-node-init "$image" /sbin/init \
    || { verdict "NOT FEASIBLE: docker run failed even without CAP_SYS_RESOURCE"; exit 1; }
fi

say "wait for systemd (is-system-running: running or degraded)"
state=unknown
for _ in $(seq 1 60); do
  state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
  [[ $state == running || $state == degraded ]] && break
  sleep 1
done
run docker exec "$name" systemctl is-system-running
run docker exec "$name" systemctl --failed --no-legend --no-pager
printf '$ docker logs %s | tail -25\n' "$name" >>"$log"
docker logs "$name" 2>&1 | tail -25 >>"$log"
ok_systemd=0
[[ $state == running || $state == degraded ]] && ok_systemd=1

say "PID 1, cgroup namespace and mounts"
node_sh 'ps -o pid,comm -p 1; cat /proc/1/cgroup; findmnt -lun -t cgroup,cgroup2,tmpfs -o target,fstype,options | head -20'

say "/dev/kmsg"
ok_kmsg=0
node_sh 'ls -l /dev/kmsg && timeout 2 head -c 200 /dev/kmsg | head -2; true' && \
  docker exec "$name" test -c /dev/kmsg && ok_kmsg=1

say "cgroups writable from inside (mkdir + move a process in every v1 hierarchy)"
ok_cgroup=1
node_sh 'set -e
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h/aftershock-probe"
    if [ "${h%/}" = /sys/fs/cgroup/cpuset ]; then
      cat $h/cpuset.cpus >$h/aftershock-probe/cpuset.cpus; cat $h/cpuset.mems >$h/aftershock-probe/cpuset.mems
    fi
    sh -c "echo \$\$ >$h/aftershock-probe/cgroup.procs && echo ok $h"
    rmdir "$h/aftershock-probe"
  done' || ok_cgroup=0

say "containerd inside the node: status, version, import the scratch image, run it"
ok_ctr=0
for _ in $(seq 1 30); do
  docker exec "$name" ctr version >/dev/null 2>&1 && break
  sleep 1
done
node_sh 'systemctl is-active containerd; ctr version'
# the way `kind load image-archive` does it: stream the archive into ctr's stdin
printf '$ docker exec -i %s ctr -n k8s.io images import --all-platforms - < %s\n' "$name" "$work/busybox.tar" >>"$log"
imported=0
docker exec -i "$name" ctr -n k8s.io images import --all-platforms - <"$work/busybox.tar" >>"$log" 2>&1 && imported=1
printf '[exit %d]\n' "$(( 1 - imported ))" >>"$log"
if (( imported )) && node_sh 'ctr -n k8s.io images ls -q' && \
   node_sh "ctr -n k8s.io run --rm docker.io/$testimg probe /bin/busybox sh -c 'echo hello-from-nested-container; cat /proc/self/cgroup | head -3; /bin/busybox ip addr show lo | head -2'"; then
  ok_ctr=1
fi
node_sh 'ctr -n k8s.io containers ls; journalctl -u containerd --no-pager | tail -5'

say "result: privileged=$privileged_ok systemd=$ok_systemd kmsg=$ok_kmsg cgroups=$ok_cgroup nested-containerd=$ok_ctr"
if (( ok_systemd && ok_kmsg && ok_cgroup && ok_ctr )); then
  if (( privileged_ok )); then
    verdict "FEASIBLE: this Docker engine runs a privileged systemd kind-style node with nested containerd"
  else
    verdict "FEASIBLE WITH A SHIM: --privileged is refused (engine lacks CAP_SYS_RESOURCE); privileged minus CAP_SYS_RESOURCE runs a systemd kind-style node with nested containerd"
  fi
  exit 0
fi
verdict "NOT FEASIBLE (see failed checks above)"
exit 1
