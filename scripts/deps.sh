#!/usr/bin/env bash
# Checks the Go modules' requirements: each go.mod (the node's, tools/ and
# bench/jetstream's) is what `go mod tidy` makes it, and every module the
# project requires directly (for tools/, the modules of its tools) is a
# tagged release, not a pseudo-version of some commit, except those listed
# below, each with why no tag will do.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
for dir in . tools bench/jetstream; do
  if ! (cd "$dir" && go mod tidy -diff); then
    echo "$dir/go.mod is not tidy: run go mod tidy there and commit the result" >&2
    fail=1
  fi
done

# "where module" -> why its pseudo-version is accepted.
declare -A untagged=(
  # genproto publishes no tagged releases: every version is a pseudo-version.
  ["node google.golang.org/genproto/googleapis/api"]="genproto has no tags"
  ["node google.golang.org/genproto/googleapis/rpc"]="genproto has no tags"
  # protoc-gen-go (tools/) is the protobuf module at the version buf v1.75.0
  # requires, a commit after v1.36.12; taking v1.36.12 would mean an older
  # buf. The node itself builds on the tagged v1.36.12.
  ["tools google.golang.org/protobuf"]="required by buf v1.75.0 in tools/"
)
pseudo='-([0-9]+\.)?[0-9]{14}-[0-9a-f]{12}$' # vX.Y.Z-[0.]yyyymmddhhmmss-commit
{
  go list -m -f '{{if not .Indirect}}{{if not .Main}}node {{.Path}} {{.Version}}{{end}}{{end}}' all
  (cd bench/jetstream && go list -m -f '{{if not .Indirect}}{{if not .Main}}{{if not .Replace}}jetstream {{.Path}} {{.Version}}{{end}}{{end}}{{end}}' all)
  go list -modfile=tools/go.mod -f 'tools {{.Module.Path}} {{.Module.Version}}' tool
} | sort -u | while read -r where path version; do
  if [[ "$version" =~ $pseudo && -z "${untagged["$where $path"]:-}" ]]; then
    echo "$where: $path $version is a pseudo-version: require a tagged release" >&2
    exit 1
  fi
done || fail=1

if ((fail)); then exit 1; fi
echo "go.mod files are tidy; direct dependencies are tagged releases"
