#!/usr/bin/env bash
# Installs everything aftershock needs that is missing, and nothing that is
# already there: iproute2, etcd (Debian's etcd-server) and chromium (for
# report screenshots) from apt, and
# kube-apiserver and kube-controller-manager built from the Go module proxy
# into the cache folder (hack/build-kube.sh), and terraform, built from the
# Go module proxy when none is installed (hack/terraform.sh). Safe to run
# again and again.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf '[deps] %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  say "not root: the lab creates network namespaces, so run as root (sudo make ...)"
  exit 1
fi

packages=()
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
command -v etcd >/dev/null 2>&1 || packages+=(etcd-server)
command -v setpriv >/dev/null 2>&1 || packages+=(util-linux)
command -v chromium >/dev/null 2>&1 || packages+=(chromium) # renders reports to PNG
if [[ ${#packages[@]} -gt 0 ]]; then
  say "installing ${packages[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  # Debian's etcd-server package may start a host etcd; the lab runs its own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
fi
say "etcd: $(etcd --version 2>/dev/null | head -1)"

"$here/build-kube.sh" >/dev/null
"$here/terraform.sh" >/dev/null # the Terraform provider's tests apply the lab module
say "ready"
