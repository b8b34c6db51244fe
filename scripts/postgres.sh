#!/usr/bin/env bash
# Starts a local PostgreSQL server for provex's tests of its PostgreSQL
# store, installing it from Debian's packages if it is missing, and prints
# the line that points the tests at it:
#
#   eval "$(./scripts/postgres.sh)"    # then: go test ./...
#
# The tests make (and drop) one database per test on that server as the
# role `provex`, which this script creates with the right to make
# databases and roles. Without PROVEX_TEST_POSTGRES the PostgreSQL tests are skipped;
# with PROVEX_REQUIRE_POSTGRES=1 (as .ci/run sets) they fail instead.
set -euo pipefail
log() { echo "$*" >&2; }

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing PostgreSQL from Debian's packages"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
if ! pg_lsclusters -h | grep -q "^$version "; then
  $SUDO pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  $SUDO pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
psql_admin() { $SUDO runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [[ -z $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'provex'") ]]; then
  psql_admin -c "CREATE ROLE provex LOGIN CREATEDB CREATEROLE PASSWORD 'provex'" >&2
fi
# The analysts' tests make (and drop) roles; servers set up before them
# gave provex no such right.
if [[ -z $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'provex' AND rolcreaterole") ]]; then
  psql_admin -c "ALTER ROLE provex CREATEROLE" >&2
fi
# Dropping a test database ends the sessions still on it (DROP DATABASE
# ... WITH (FORCE)), an analyst test role's among them.
if [[ -z $(psql_admin -c "SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = 'pg_signal_backend' AND r.rolname = 'provex'") ]]; then
  psql_admin -c "GRANT pg_signal_backend TO provex" >&2
fi
log "PostgreSQL $version is running on port $port"
echo "export PROVEX_TEST_POSTGRES='postgres://provex:provex@localhost:$port/postgres?sslmode=disable'"
