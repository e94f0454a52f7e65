#!/bin/sh
# The temporal-schema job (docker-compose.yml): Temporal's schema in its two databases, as the `temporal` role
# that db-setup made their owner. Every step is idempotent (setup-schema makes the version table when it is
# missing, update-schema applies only the versions that are missing). A failed run is shown in full and tried
# again, so a database that is still starting delays Temporal instead of leaving it unstartable.
set -eu
SQL_PASSWORD=$(cat "$SQL_PASSWORD_FILE")
export SQL_PASSWORD
schemas=/etc/temporal/schema/postgresql/v12
attempts=${SUPPORTFLOW_SCHEMA_ATTEMPTS:-30}

apply() {
  temporal-sql-tool --db temporal setup-schema -v 0.0 &&
    temporal-sql-tool --db temporal update-schema -d "$schemas/temporal/versioned" &&
    temporal-sql-tool --db temporal_visibility setup-schema -v 0.0 &&
    temporal-sql-tool --db temporal_visibility update-schema -d "$schemas/visibility/versioned"
}

attempt=1
until apply; do
  if [ "$attempt" -ge "$attempts" ]; then
    echo "temporal-schema: gave up after $attempt attempts; the errors are above" >&2
    exit 1
  fi
  echo "temporal-schema: attempt $attempt of $attempts failed; trying again in 5 s" >&2
  attempt=$((attempt + 1))
  sleep 5
done
echo "temporal-schema: both databases are at the schema version of this image"
