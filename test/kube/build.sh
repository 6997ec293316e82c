#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok in one multi-call binary) from upstream source through the
# Go module proxy, and prints the binary's path as the last line of stdout.
#
# The binary is cached under ${XDG_CACHE_HOME:-~/.cache}/platformctl-kube/<key>/
# where <key> hashes the Go version, this script, go.mod, go.sum and the Go sources, so
# a changed pin rebuilds and an unchanged one starts in milliseconds.
# Progress goes to stderr; PLATFORMCTL_KUBE_CACHE overrides the cache root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/controlplane"
cache_root="${PLATFORMCTL_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/platformctl-kube}"

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain is needed to build the test control plane" >&2
  echo "hint: install Go 1.26 or newer (https://go.dev/doc/install), then run npm run kube:up again" >&2
  exit 3
fi

key="$( { go version; cat "$0" "$src/go.mod" "$src/go.sum" "$src"/*.go; } | sha256sum | cut -c1-16)"
dir="$cache_root/$key"
bin="$dir/kube-controlplane"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dir"
# One build at a time per key: CI and a contributor's kube:up may race.
exec 9>"$dir/.lock"
flock 9
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

k8s_version="$(cd "$src" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
major="${k8s_version#v}"; major="${major%%.*}"
minor="${k8s_version#v*.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

echo "building the test control plane ($k8s_version) into $dir; the first build takes a while" >&2
start=$(date +%s)
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" .)
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
