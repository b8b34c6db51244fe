#!/usr/bin/env bash
# Fails if provex's schema (proto/) breaks compatibility with the previous
# commit under the FILE rules of buf.yaml (no field, message, enum value or
# RPC removed, renumbered or retyped; no package or file moved), so clients
# built from the schema of the commit before keep working. Run after
# scripts/gen.sh, which links the third-party protos into .protodeps/; the
# previous commit's schema is compiled against the same ones.
#
# Usage: scripts/breaking.sh [REF]   (default HEAD~1, the first parent: on a
# merge, main as it was before it)
set -euo pipefail
cd "$(dirname "$0")/.."

ref=${1:-HEAD~1}
if [[ ! -d .protodeps ]]; then
  echo "scripts/breaking.sh: no .protodeps/: run scripts/gen.sh first" >&2
  exit 1
fi
if ! git rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
  echo "scripts/breaking.sh: no commit $ref to compare with (a shallow clone?)" >&2
  exit 1
fi

prev=$(mktemp -d)
trap 'rm -rf "$prev"' EXIT
# The previous commit's workspace (its buf.yaml and proto/), not a buf
# input of the form .git#ref=...: that would lack the ignored .protodeps/.
git archive "$ref" buf.yaml proto | tar -x -C "$prev"
ln -s "$PWD/.protodeps" "$prev/.protodeps"

go tool -modfile=tools/go.mod buf breaking proto --against "$prev/proto"
echo "proto/ is compatible with $ref ($(git rev-parse --short "$ref"))"
