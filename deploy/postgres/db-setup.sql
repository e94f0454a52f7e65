-- The stack's roles and databases on its one PostgreSQL (run by db-setup.sh as the superuser). Idempotent:
-- roles and databases are created when missing, and every run resets the roles' attributes and passwords from
-- the secrets, so rotating a password is "change the secret file, `docker compose up -d`".
--
--   temporal              Temporal's role: LOGIN and nothing else (no superuser, no CREATEDB, no CREATEROLE).
--                         It owns `temporal` and `temporal_visibility`, so temporal-sql-tool can apply the
--                         schema (btree_gin, which the visibility schema needs, is a trusted extension).
--   <archive role>        The case archive's role, owning the archive database; both named in
--                         SUPPORTFLOW_ARCHIVE_URL (postgresql+psycopg://ROLE:PASSWORD@postgresql:5432/DATABASE),
--                         which is the one place its password is kept.
--
-- Nobody but a database's owner (and the superuser, for backups) may connect to it.

\set temporal_password `cat "$TEMPORAL_DB_PASSWORD_FILE"`
\set archive_url `cat "$SUPPORTFLOW_ARCHIVE_URL_FILE"`

SELECT :'temporal_password' <> '' AS temporal_password_ok,
       :'archive_url' ~ '^postgresql(\+[a-z0-9]+)?://[A-Za-z0-9_]+:[^@/:%?#]+@[^/]+/[A-Za-z0-9_]+$' AS archive_url_ok
\gset
\if :temporal_password_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'db-setup: the temporal_db_password secret is empty'; END $$;
\endif
\if :archive_url_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'db-setup: the archive_url secret must read postgresql+psycopg://ROLE:PASSWORD@HOST:PORT/DATABASE (ROLE and DATABASE of letters, digits and _; PASSWORD without @ / : %% ? #)'; END $$;
\endif

SELECT substring(:'archive_url' from '^postgresql(?:\+[a-z0-9]+)?://([A-Za-z0-9_]+):') AS archive_role,
       substring(:'archive_url' from '^postgresql(?:\+[a-z0-9]+)?://[A-Za-z0-9_]+:([^@/:%?#]+)@') AS archive_password,
       substring(:'archive_url' from '/([A-Za-z0-9_]+)$') AS archive_database
\gset

-- Roles.
SELECT format('CREATE ROLE %I LOGIN', name)
  FROM unnest(ARRAY['temporal', :'archive_role']) AS name
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L',
              name, password)
  FROM (VALUES ('temporal', :'temporal_password'), (:'archive_role', :'archive_password')) AS role (name, password)
\gexec

-- Databases, each owned by its role (an existing one is handed over: a 0.1 stack made them as the superuser).
SELECT format('CREATE DATABASE %I OWNER %I', db, owner)
  FROM (VALUES ('temporal', 'temporal'), ('temporal_visibility', 'temporal'), (:'archive_database', :'archive_role'))
       AS wanted (db, owner)
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = db)
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', db, owner)
  FROM (VALUES ('temporal', 'temporal'), ('temporal_visibility', 'temporal'), (:'archive_database', :'archive_role'))
       AS wanted (db, owner)
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', db)
  FROM unnest(ARRAY['temporal', 'temporal_visibility', :'archive_database']) AS db
\gexec
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
