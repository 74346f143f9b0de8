#!/usr/bin/env bash
# Throwaway PostgreSQL for the store tests: installs Debian's postgresql if absent, runs a private
# cluster on 127.0.0.1, creates a user and a database, and prints the URL to export as
# CDS_TEST_DATABASE_URL (stdout carries only the URL; everything else goes to stderr).
# Idempotent: a second call reuses the running cluster. If PostgreSQL can't be had, it says why
# and exits 0 printing nothing, so CI runs the SQLite tests alone instead of failing.
#
#   export CDS_TEST_DATABASE_URL="$(.ci/postgres.sh)"
#   .ci/postgres.sh stop      # stop the cluster and delete its data
set -u

PGDATA_DIR="${CDS_PG_DIR:-/tmp/cds-service-ci-postgres}"
PORT="${CDS_PG_PORT:-55432}"
DB_USER="cds_test"
DB_PASSWORD="cds_test"
DB_NAME="cds_test"

say() { echo "postgres.sh: $*" >&2; }
give_up() { say "$* -- PostgreSQL tests will be skipped"; exit 0; }

find_bindir() {
  local dir
  # Newest Debian version first, then whatever is on PATH.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 \
    && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install_postgresql() {
  command -v apt-get >/dev/null 2>&1 || give_up "postgresql is not installed and apt-get is not available"
  [ "$(id -u)" -eq 0 ] || give_up "postgresql is not installed and installing it needs root"
  say "installing Debian's postgresql package"
  DEBIAN_FRONTEND=noninteractive apt-get update >&2 || give_up "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 || give_up "apt-get install postgresql failed"
}

BINDIR="$(find_bindir)" || { install_postgresql; BINDIR="$(find_bindir)" || give_up "postgresql installed but initdb/pg_ctl not found"; }

# PostgreSQL refuses to run as root: when root, the cluster belongs to the postgres account.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || give_up "running as root and there is no postgres account"
  as_owner() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_owner() { "$@"; }
  OWNER="$(id -un)"
fi

pg() { as_owner "$BINDIR/$1" "${@:2}"; }
running() { pg pg_ctl -D "$PGDATA_DIR" status >/dev/null 2>&1; }

if [ "${1:-}" = "stop" ]; then
  if [ -f "$PGDATA_DIR/PG_VERSION" ]; then
    running && pg pg_ctl -D "$PGDATA_DIR" -m fast -w stop >&2
    rm -rf "$PGDATA_DIR"
    say "stopped and removed $PGDATA_DIR"
  fi
  exit 0
fi

if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
  rm -rf "$PGDATA_DIR"
  mkdir -p "$PGDATA_DIR" && chown "$OWNER" "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR" \
    || give_up "cannot create $PGDATA_DIR"
  # Local socket: trust (only the owner can reach it); TCP: password.
  pg initdb -D "$PGDATA_DIR" -U "$OWNER" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >&2 || give_up "initdb failed"
fi

if ! running; then
  # The socket lives in the data directory, so no system directory is needed.
  pg pg_ctl -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDATA_DIR" start >&2 \
    || give_up "the server did not start (see $PGDATA_DIR/server.log)"
fi

psql_admin() { pg psql -h "$PGDATA_DIR" -p "$PORT" -U "$OWNER" -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" >&2 || give_up "cannot create role"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2 || give_up "cannot create database"
fi

say "PostgreSQL $(cat "$PGDATA_DIR/PG_VERSION") on 127.0.0.1:$PORT, data in $PGDATA_DIR"
echo "postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
