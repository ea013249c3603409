#!/usr/bin/env bash
# Builds every Kubernetes binary a kind node needs (kubelet, kubeadm, kubectl,
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy) into the
# lab's cache folder, with hack/build-kube.sh and a wrapper folder of its own,
# so that it can run while the lab's build does. The Go build cache is shared:
# packages the lab's build compiled are not compiled again.
#
# Usage: hack/kind-build-kube.sh [component...]   (prints the bin folder last)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -eq 0 ]]; then
  set -- kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy
fi
KUBE_WRAPPER=wrapper-kind exec "$here/build-kube.sh" "$@"
