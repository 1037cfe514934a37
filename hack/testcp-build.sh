#!/usr/bin/env bash
# Builds tools/testcp once per source version and prints the binary's path.
# The binary is cached under ${STAGEHAND_CACHE:-~/.cache/stagehand} keyed by a hash of the
# Go sources, so a fresh clone on a machine that already built it reuses it; Go's own build
# cache makes a rebuild after a small change take seconds.
set -euo pipefail
src=$(cd "$(dirname "$0")/../tools/testcp" && pwd)
cache=${STAGEHAND_CACHE:-$HOME/.cache/stagehand}
hash=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-16)
out="$cache/testcp-$hash"
if [ ! -x "$out" ]; then
  mkdir -p "$cache"
  command -v go >/dev/null || { echo "testcp-build: Go is required to build the test control plane" >&2; exit 1; }
  k8s=$(cd "$src" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=$(echo "$k8s" | cut -d. -f2)
  pkg=k8s.io/component-base/version
  echo "testcp-build: building testcp (Kubernetes $k8s) into $out; a cold build takes several minutes" >&2
  (cd "$src" && go build -trimpath -ldflags "-s -w -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
fi
echo "$out"
