#!/usr/bin/env bash
# Assembles a kindest/node-compatible image offline, without any container
# registry, as aftershock/kind-node:<KUBE_VERSION>:
#
#   1. Kubernetes binaries (kubelet, kubeadm, kubectl and the control-plane
#      components) built from the Go module proxy into the lab's cache
#      (hack/build-kube.sh, then hack/kind-build-kube.sh for the rest).
#   2. etcd, CoreDNS and a pause binary, built static from the Go module proxy
#      at the versions `kubeadm config images list` names.
#   3. A Debian bookworm rootfs (debootstrap) with systemd, containerd, runc
#      and the CNI plugins from Debian's packages, laid out like kind's base
#      image (kind's own entrypoint, units and containerd config, taken from
#      the sigs.k8s.io/kind module).
#   4. The control-plane, kube-proxy, etcd, CoreDNS and pause images, built
#      FROM scratch from those static binaries, and imported into the image's
#      containerd (k8s.io namespace) under the names kubeadm expects (not
#      unpacked: the CRI unpacks them on first use, on the node's /var volume).
#
# Every stage is cached under $AFTERSHOCK_CACHE/kind; the finished image is
# labelled with a hash of its inputs, so a second run returns at once.
#
# Usage: hack/build-kind-node-image.sh      (prints the image name last)
# Env:   KUBE_VERSION, AFTERSHOCK_CACHE, KIND_NODE_IMAGE (image name),
#        KIND_VERSION (the sigs.k8s.io/kind module to take base files from)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=hack/versions.env
source "$here/versions.env"
cache=${AFTERSHOCK_CACHE:-"$repo/.cache"}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
export AFTERSHOCK_CACHE=$cache

version=$KUBE_VERSION
kind_version=${KIND_VERSION:-v0.33.0}
image=${KIND_NODE_IMAGE:-aftershock/kind-node:$version}
base_image=aftershock/kind-node-base:$version
work="$cache/kind/node-image"
static="$cache/kind/static"
kube_bin="$cache/kube/$version/bin"
mkdir -p "$work" "$static" "$cache/kind/debs"

started=$(date +%s)
say() { printf '[kind-node-image %4ds] %s\n' "$(( $(date +%s) - started ))" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v docker >/dev/null || die "docker not found"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers"

inputs_hash=$( { cat "$0" "$here/versions.env"; echo "$version $kind_version $image"; } \
  | sha256sum | cut -c1-16)
if [[ $(docker image inspect --format '{{index .Config.Labels "aftershock.io/build-hash"}}' "$image" 2>/dev/null) == "$inputs_hash" ]]; then
  say "$image is up to date (inputs $inputs_hash)"
  echo "$image"
  exit 0
fi

# ---------------------------------------------------------------- binaries
say "stage 1/6: Kubernetes $version binaries (cached in $kube_bin)"
"$here/build-kube.sh" >/dev/null
"$here/kind-build-kube.sh" kubelet kubeadm kubectl kube-scheduler kube-proxy >/dev/null

mapfile -t kube_images < <("$kube_bin/kubeadm" config images list --kubernetes-version "$version" 2>/dev/null)
[[ ${#kube_images[@]} -ge 7 ]] || die "kubeadm config images list returned: ${kube_images[*]}"
tag_of() { local ref; for ref in "${kube_images[@]}"; do [[ $ref == *"/$1:"* ]] && { echo "${ref##*:}"; return; }; done; die "kubeadm names no $1 image"; }
etcd_tag=$(tag_of etcd)          # e.g. 3.6.8-0
coredns_tag=$(tag_of coredns)    # e.g. v1.14.2
pause_tag=$(tag_of pause)        # e.g. 3.10.2
etcd_version=v${etcd_tag%-*}
say "kubeadm expects: ${kube_images[*]}"

gobuild() { CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" "$@"; }

say "stage 2/6: etcd $etcd_version, CoreDNS $coredns_tag and pause, static, from the Go module proxy"
if [[ ! -x $static/etcd-$etcd_version ]]; then
  src="$cache/kind/src/etcd-$etcd_version"
  mkdir -p "$src"
  cat >"$src/go.mod" <<EOF
module aftershock.local/etcd-build

go $(go env GOVERSION | sed 's/^go//' | cut -d. -f1,2)

require go.etcd.io/etcd/server/v3 $etcd_version

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $etcd_version
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $etcd_version
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $etcd_version
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $etcd_version
)
EOF
  say "building etcd $etcd_version (a few minutes when cold)"
  (cd "$src" && GOFLAGS=-mod=mod go mod download && gobuild -o "$static/etcd-$etcd_version.tmp" go.etcd.io/etcd/server/v3)
  mv "$static/etcd-$etcd_version.tmp" "$static/etcd-$etcd_version"
fi
if [[ ! -x $static/coredns-$coredns_tag ]]; then
  say "building CoreDNS $coredns_tag (a few minutes when cold)"
  tmp=$(mktemp -d)
  GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$coredns_tag"
  mv "$tmp/coredns" "$static/coredns-$coredns_tag"
  rmdir "$tmp"
fi
if [[ ! -x $static/pause-$pause_tag ]]; then
  src="$cache/kind/src/pause"
  mkdir -p "$src"
  cat >"$src/go.mod" <<EOF
module aftershock.local/pause

go $(go env GOVERSION | sed 's/^go//' | cut -d. -f1,2)
EOF
  cat >"$src/main.go" <<'EOF'
// pause holds a pod's namespaces: it sleeps, reaps orphans, and exits on
// SIGINT or SIGTERM, like Kubernetes' own pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
EOF
  (cd "$src" && gobuild -o "$static/pause-$pause_tag" .)
fi

# ------------------------------------------------------------------ rootfs
rootfs="$work/rootfs"
pkgs=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins
pkgs+=,iproute2,iptables,nftables,conntrack,ethtool,socat,ebtables,kmod,procps,util-linux,mount
pkgs+=,libseccomp2,ca-certificates,jq,bash,e2fsprogs,busybox-static
pkgs_hash=$(echo "$pkgs" | sha256sum | cut -c1-12)
if [[ ! -f $work/rootfs.$pkgs_hash.done ]]; then
  command -v debootstrap >/dev/null || { say "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
  say "stage 3/6: debootstrap Debian bookworm with systemd, containerd, runc, CNI plugins (a few minutes)"
  rm -rf "$rootfs" "$work"/rootfs.*.done
  debootstrap --variant=minbase --cache-dir="$cache/kind/debs" --include="$pkgs" \
    bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || die "debootstrap failed (see $work/debootstrap.log)"
  touch "$work/rootfs.$pkgs_hash.done"
else
  say "stage 3/6: Debian rootfs cached in $rootfs"
fi

say "stage 4/6: lay the rootfs out like kind's base image"
kind_dir=$(cd "$repo" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$kind_version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
files="$kind_dir/images/base/files"
[[ -d $files ]] || die "no kind base files in $kind_dir"
R=$rootfs
install -d -m 0755 "$R/kind/bin" "$R/etc/containerd" "$R/etc/systemd/system/kubelet.service.d" \
  "$R/etc/kubernetes/manifests" "$R/opt/cni/bin" "$R/etc/cni/net.d" "$R/var/lib/containerd" "$R/LICENSES"
install -m 0755 "$files"/usr/local/bin/* "$R/usr/local/bin/"
install -m 0755 "$files"/kind/bin/* "$R/kind/bin/"
install -m 0644 "$files/kind/README.txt" "$R/kind/"
install -m 0644 "$files/etc/crictl.yaml" "$R/etc/"
install -m 0644 "$files"/etc/default/kubelet "$R/etc/default/"
install -m 0644 "$files"/etc/sysctl.d/* "$R/etc/sysctl.d/"
for u in kubelet.service kubelet.slice undo-mount-hacks.service containerd.service; do
  install -m 0644 "$files/etc/systemd/system/$u" "$R/etc/systemd/system/"
done
install -m 0644 "$files"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"
# Debian's containerd lives in /usr/bin, kind's in /usr/local/bin.
sed -i 's#^ExecStart=/usr/local/bin/containerd#ExecStart=/usr/bin/containerd#' "$R/etc/systemd/system/containerd.service"
# kind's containerd config, with the sandbox image kubeadm expects.
sed "s#sandbox_image = .*#sandbox_image = \"registry.k8s.io/pause:$pause_tag\"#" \
  "$files/etc/containerd/config.toml" >"$R/etc/containerd/config.toml"
# kind picks fuse-overlayfs when the container's root is FUSE (this engine
# stores containers on fuse-overlayfs), but containerd's data lives on the /var
# volume, which is not: decide on that instead.
sed -i 's#container_filesystem="$(stat -f -c %T /kind)"#container_filesystem="$(stat -f -c %T /var/lib/containerd)"#' \
  "$R/usr/local/bin/entrypoint"
grep -q 'stat -f -c %T /var/lib/containerd' "$R/usr/local/bin/entrypoint" || die "could not patch kind's entrypoint"
cat >"$R/usr/local/bin/aftershock-entrypoint" <<'EOF'
#!/bin/bash
# Runs before kind's entrypoint. On an engine that cannot grant
# CAP_SYS_RESOURCE, the node runs without --privileged (infra/kind/docker-shim.sh):
# Docker then mounts the cgroup v1 hierarchies read-only, and nothing in the
# node may lower an oom_score_adj.
set -euo pipefail
for m in $(findmnt -rn -t cgroup -O ro -o target); do
  mount -o remount,bind,rw "$m"
done
bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if (( (16#$bnd >> 24 & 1) == 0 )); then
  echo "INFO: no CAP_SYS_RESOURCE: containerd restricts oom_score_adj" >&2
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml
fi
exec "$@"
EOF
chmod 0755 "$R/usr/local/bin/aftershock-entrypoint"
install -m 0755 "$kube_bin/kubelet" "$kube_bin/kubeadm" "$kube_bin/kubectl" "$R/usr/bin/"
cp -a "$R"/usr/lib/cni/. "$R/opt/cni/bin/"
echo "$version" >"$R/kind/version"
chroot "$R" /bin/bash -euc '
  ctr oci spec \
    | jq ".hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
    | jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
  find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
        /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
        /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  grep -q "^ReadKMsg=no" /etc/systemd/journald.conf || echo "ReadKMsg=no" >>/etc/systemd/journald.conf
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
  systemctl mask systemd-binfmt.service >/dev/null 2>&1
  rm -f /etc/machine-id /kind/product_uuid /kind/old-ipv4 /kind/old-ipv6
  touch /etc/machine-id
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/journal/*
'
printf 'Built by aftershock hack/build-kind-node-image.sh from Debian bookworm packages,\nkind %s base files and Kubernetes %s built from the Go module proxy.\n' \
  "$kind_version" "$version" >"$R/LICENSES/README.txt"

# Images this run replaces; removed at the end so rebuilds leave no dangling ones.
old_ids=$(docker image inspect --format '{{.Id}}' "$image" "$base_image" 2>/dev/null || true)

say "importing the rootfs into Docker as $base_image"
tar --numeric-owner -C "$R" -c . | docker import \
  --change 'ENV container=docker' \
  --change 'ENTRYPOINT ["/usr/local/bin/aftershock-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init"]' \
  - "$base_image" >/dev/null

# --------------------------------------------------- component images
say "stage 5/6: control-plane, kube-proxy, etcd, CoreDNS and pause images FROM scratch"
imgdir="$work/images"
rm -rf "$imgdir"
mkdir -p "$imgdir"
# skeleton puts what distroless/static has into a scratch image's folder.
skeleton() {
  local d=$1
  install -d -m 0755 "$d/etc/ssl/certs" "$d/usr/local/bin"
  install -d -m 1777 "$d/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$d/etc/group"
  printf 'hosts: files dns\n' >"$d/etc/nsswitch.conf"
  cp "$R/etc/ssl/certs/ca-certificates.crt" "$d/etc/ssl/certs/"
}
# with_libs copies binaries from the rootfs with every shared library they load.
with_libs() {
  local d=$1; shift
  local f lib
  for f in "$@"; do
    install -D -m 0755 "$R$f" "$d$f"
    for lib in $(chroot "$R" ldd "$f" | grep -o '/[^ ]*'); do
      [[ -e $d$lib ]] || install -D -m 0755 "$R$(chroot "$R" readlink -f "$lib")" "$d$lib"
    done
  done
}
built=()
image_from() { # name dir entrypoint-json
  local name=$1 dir=$2 entry=$3
  {
    echo "FROM scratch"
    echo "COPY . /"
    echo "ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    [[ -n $entry ]] && echo "ENTRYPOINT $entry"
  } >"$dir/Dockerfile"
  docker build -q -t "$name" -f "$dir/Dockerfile" "$dir" >/dev/null 2>"$dir.build.log" \
    || { cat "$dir.build.log" >&2; die "docker build $name"; }
  local tar="$imgdir/$(echo "$name" | tr '/:' '__').tar"
  docker save -o "$tar" "$name"
  built+=("$tar")
  say "  $name ($(du -h "$tar" | cut -f1))"
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  d="$imgdir/$c"; skeleton "$d"
  install -m 0755 "$kube_bin/$c" "$d/usr/local/bin/"
  image_from "registry.k8s.io/$c:$version" "$d" ""
done
d="$imgdir/kube-proxy"; skeleton "$d"
install -m 0755 "$kube_bin/kube-proxy" "$d/usr/local/bin/"
with_libs "$d" /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi
# iptables loads its matches and targets (comment, conntrack, DNAT, …) as plugins.
xt=$(cd "$R" && ls -d usr/lib/*/xtables)
with_libs "$d" $(cd "$R" && ls "$xt"/*.so | sed 's#^#/#')
# The node's entrypoint picks nft or legacy from the rules Docker put in its
# namespace; Debian's Docker uses nft, so kube-proxy does too.
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-nft-multi "$d/usr/sbin/$t"
  ln -sf xtables-nft-multi "$d/usr/sbin/${t/tables/tables-nft}"
  ln -sf xtables-legacy-multi "$d/usr/sbin/${t/tables/tables-legacy}"
done
image_from "registry.k8s.io/kube-proxy:$version" "$d" ""
d="$imgdir/etcd"; skeleton "$d"
install -m 0755 "$static/etcd-$etcd_version" "$d/usr/local/bin/etcd"
install -d -m 0700 "$d/var/lib/etcd"
image_from "registry.k8s.io/etcd:$etcd_tag" "$d" ""
d="$imgdir/coredns"; skeleton "$d"
install -m 0755 "$static/coredns-$coredns_tag" "$d/coredns"
image_from "registry.k8s.io/coredns/coredns:$coredns_tag" "$d" '["/coredns"]'
d="$imgdir/pause"; install -d "$d"
install -m 0755 "$static/pause-$pause_tag" "$d/pause"
image_from "registry.k8s.io/pause:$pause_tag" "$d" '["/pause"]'

# ------------------------------------------------- import and commit
say "stage 6/6: import the images into the node's containerd and commit $image"
builder=aftershock-kind-node-build-$$
cleanup() { docker rm -f "$builder" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# containerd alone is enough to fill its content store: no systemd, no
# privileges. Images are imported without unpacking, as kind does; the CRI
# unpacks them into the node's /var volume on first use.
# (docker commit cannot set a stop signal, so the builder carries systemd's.)
docker run -d --name "$builder" --stop-signal SIGRTMIN+3 --entrypoint /usr/bin/containerd "$base_image" >/dev/null
for _ in $(seq 1 30); do
  docker exec "$builder" ctr version >/dev/null 2>&1 && break
  sleep 1
done
for tar in "${built[@]}"; do
  docker exec -i "$builder" ctr --namespace=k8s.io images import --all-platforms --no-unpack - <"$tar" >/dev/null \
    || die "import $(basename "$tar") into the node's containerd"
done
listed=$(docker exec "$builder" ctr --namespace=k8s.io images ls -q | grep -v '^sha256:' | sort)
for ref in "${kube_images[@]}"; do
  grep -qx "$ref" <<<"$listed" || die "$ref missing from the node's containerd (has: $listed)"
done
say "node containerd holds: $(tr '\n' ' ' <<<"$listed")"
docker kill --signal TERM "$builder" >/dev/null
docker wait "$builder" >/dev/null
docker commit \
  --change 'ENV container=docker' \
  --change 'ENTRYPOINT ["/usr/local/bin/aftershock-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'CMD []' \
  --change "LABEL aftershock.io/build-hash=$inputs_hash" \
  --change "LABEL aftershock.io/kubernetes-version=$version" \
  "$builder" "$image" >/dev/null
for id in $old_ids; do
  # Still tagged (unchanged) or used by a container: docker refuses, and that is fine.
  [[ -z $(docker image inspect --format '{{join .RepoTags ","}}' "$id" 2>/dev/null) ]] && docker rmi "$id" >/dev/null 2>&1 || true
done
say "built $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$image"
