#!/bin/sh
# The backup service (docker-compose.yml): logical dumps of every database on the stack's PostgreSQL.
#
#   pg-backup.sh loop    dump now, then every SUPPORTFLOW_BACKUP_EVERY_SECONDS; keep SUPPORTFLOW_BACKUP_KEEP_DAYS
#   pg-backup.sh once    dump now and exit (before an upgrade: `docker compose run --rm backup once`)
#   pg-backup.sh check   exit 1 unless a dump succeeded within two intervals (the service's healthcheck)
#
# Each run writes /backups/<UTC time>/: globals.sql (roles, with their password hashes) and one
# `pg_dump --format=custom` file per database. A directory appears under its final name only once every
# dump in it succeeded. Each dump is a consistent snapshot of its database (pg_dump runs in one repeatable-read
# transaction); docs/operations.md has the restore drill, and what "consistent" does and does not cover.
set -eu
umask 077 # the dumps hold every case: readable by their owner only
: "${PGHOST:=postgresql}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER
PGPASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
export PGPASSWORD
target=${SUPPORTFLOW_BACKUP_TARGET:-/backups}
every=${SUPPORTFLOW_BACKUP_EVERY_SECONDS:-86400}
keep_days=${SUPPORTFLOW_BACKUP_KEEP_DAYS:-14}

backup_once() {
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  work="$target/.$stamp.partial"
  rm -rf "$work"
  mkdir -p "$work"
  pg_dumpall --globals-only --file "$work/globals.sql"
  for db in $(psql --no-psqlrc -AtX -d postgres -c \
    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY 1"); do
    pg_dump --format=custom --file "$work/$db.dump" "$db"
  done
  mv "$work" "$target/$stamp"
  date -u +%s >"$target/last-success"
  echo "backup: $target/$stamp ($(ls "$target/$stamp" | tr '\n' ' '))"
  find "$target" -mindepth 1 -maxdepth 1 -type d -name '20*Z' -mtime +"$keep_days" -exec rm -rf {} +
}

case "${1:-loop}" in
once)
  backup_once
  ;;
check)
  last=$(cat "$target/last-success" 2>/dev/null || echo 0)
  [ $(($(date -u +%s) - last)) -le $((2 * every)) ]
  ;;
loop)
  while true; do
    backup_once || echo "backup: FAILED; the error is above, the next attempt is in ${every}s" >&2
    sleep "$every"
  done
  ;;
*)
  echo "usage: pg-backup.sh loop|once|check" >&2
  exit 2
  ;;
esac
