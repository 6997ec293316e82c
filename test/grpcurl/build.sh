#!/usr/bin/env bash
# Builds grpcurl (github.com/fullstorydev/grpcurl, the upstream Go module pinned by go.mod/go.sum
# here) and prints the binary's path as the last line of stdout. The tests use it as a gRPC client
# nobody in this project wrote.
#
# The binary is cached under ${XDG_CACHE_HOME:-~/.cache}/platformctl-grpcurl/<key>/grpcurl where
# <key> hashes the Go version, this script, go.mod and go.sum, so a changed pin rebuilds and an
# unchanged one returns at once. test/helpers/grpcurl.ts computes the same key. Progress goes to
# stderr; PLATFORMCTL_GRPCURL_CACHE overrides the cache root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${PLATFORMCTL_GRPCURL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/platformctl-grpcurl}"

if ! command -v go >/dev/null 2>&1; then
  echo "error: the Go toolchain is needed to build grpcurl" >&2
  echo "hint: install Go 1.25 or newer (https://go.dev/doc/install), then run bash test/grpcurl/build.sh again" >&2
  exit 3
fi

key="$( { cat "$here/build.sh" "$here/go.mod" "$here/go.sum"; } | sha256sum | cut -c1-16)"
dir="$cache_root/$key"
bin="$dir/grpcurl"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dir"
# One build at a time per key: CI and a contributor's test run may race.
exec 9>"$dir/.lock"
flock 9
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

version="$(cd "$here" && go list -m -f '{{.Version}}' github.com/fullstorydev/grpcurl)"
echo "building grpcurl $version into $dir" >&2
start=$(date +%s)
(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$bin.tmp" \
  github.com/fullstorydev/grpcurl/cmd/grpcurl)
mv "$bin.tmp" "$bin"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
