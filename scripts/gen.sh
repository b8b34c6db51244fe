#!/usr/bin/env bash
# Regenerates gen/ from proto/ offline: Go messages, gRPC stubs, grpc-gateway
# handlers and one merged OpenAPI v2 document. Third-party protos are fetched
# through the Go module proxy. With --check, fails if gen/ is not what the
# schema produces, and runs buf lint.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOVALIDATE=github.com/bufbuild/protovalidate@v1.2.2
GOOGLEAPIS=github.com/grpc-ecosystem/grpc-gateway@v1.16.0

moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

rm -rf .protodeps && mkdir -p .protodeps
ln -s "$(moddir "$PROTOVALIDATE")/proto/protovalidate" .protodeps/protovalidate
ln -s "$(moddir "$GOOGLEAPIS")/third_party/googleapis" .protodeps/googleapis

buf() { go tool -modfile=tools/go.mod buf "$@"; }

buf lint proto
buf format --diff --exit-code proto

out=gen
if [[ "${1:-}" == "--check" ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
rm -rf "$out/go" "$out/openapi"
buf generate proto --template buf.gen.yaml -o "$out"

if [[ "${1:-}" == "--check" ]]; then
  if ! changes=$(diff -r "$out" gen); then
    echo "gen/ is out of date: run scripts/gen.sh and commit the result" >&2
    head -40 <<<"$changes" >&2
    exit 1
  fi
  echo "gen/ is up to date"
fi
