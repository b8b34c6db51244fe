#!/usr/bin/env bash
# release.sh builds a versioned provex binary for this machine's Linux
# architecture and packs it for download:
#
#   scripts/release.sh [VERSION]
#
#   dist/provex-VERSION-linux-ARCH/provex   (plus README.md, THREATS.md and packaging/)
#   dist/provex-VERSION-linux-ARCH.tar.gz
#   dist/SHA256SUMS
#
# VERSION defaults to `git describe --tags --always --dirty`; the commit is
# $COMMIT or `git rev-parse HEAD`. Both are linked into the binary, which
# `provex version` prints with its Go and SQLite versions. DIST overrides
# the output directory (the Dockerfile and the tests use it).
#
# Only the native architecture: mattn/go-sqlite3 is cgo, and a cgo build for
# another one needs that architecture's C cross compiler (CC=...) and libc;
# build arm64 releases on an arm64 machine (or in its container image).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
dist=${DIST:-dist}
# A version names a file and a tar directory: no slashes, spaces or shell
# metacharacters.
if [[ ! $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
  echo "release.sh: version $version: want letters, digits and . _ + - only" >&2
  exit 2
fi

goos=$(go env GOOS)
goarch=$(go env GOARCH)
if [[ $goos != linux ]]; then
  echo "release.sh: builds Linux releases, on Linux (this is $goos)" >&2
  exit 2
fi
name=provex-$version-$goos-$goarch
out=$dist/$name
rm -rf "$out" "$out.tar.gz"
mkdir -p "$out"

# -trimpath keeps the build machine's paths out of the binary; -buildvcs=false
# because the commit is linked in explicitly (a tarball or a container build
# has no .git to stamp from).
CGO_ENABLED=1 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X main.buildVersion=$version -X main.buildCommit=$commit" \
  -o "$out/provex" ./cmd/provex
cp README.md THREATS.md "$out/"
cp -r packaging "$out/"

tar -C "$dist" --owner=0 --group=0 --numeric-owner -czf "$out.tar.gz" "$name"
(cd "$dist" && sha256sum -- provex-*.tar.gz >SHA256SUMS)
"$out/provex" version
echo "release.sh: $out.tar.gz"
