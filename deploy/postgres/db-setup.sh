#!/bin/sh
# The db-setup job (docker-compose.yml): wait until PostgreSQL accepts TCP connections, then create or bring
# up to date the stack's roles and databases (db-setup.sql). Safe to run again at any time.
set -eu
: "${PGHOST:=postgresql}" "${PGPORT:=5432}" "${PGUSER:=postgres}" "${SUPPORTFLOW_DB_WAIT_SECONDS:=300}"
export PGHOST PGPORT PGUSER
PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
export PGPASSWORD

deadline=$(($(date +%s) + SUPPORTFLOW_DB_WAIT_SECONDS))
until pg_isready -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "db-setup: PostgreSQL at $PGHOST:$PGPORT accepted no TCP connection in ${SUPPORTFLOW_DB_WAIT_SECONDS}s" >&2
    exit 1
  fi
  sleep 2
done

exec psql --no-psqlrc --set ON_ERROR_STOP=1 --dbname postgres --file "$(dirname "$0")/db-setup.sql"
