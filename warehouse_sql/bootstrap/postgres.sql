-- Warehouse bootstrap for PostgreSQL, run by the database owner (`lakehouse warehouse
-- bootstrap`; the native services and the Compose stack run it on start). The loader and
-- analyst login roles are created by the same command first (their passwords come from the
-- profile). Placeholders are validated identifiers, quoted by lakehouse/warehouse/sql.py.
CREATE SCHEMA IF NOT EXISTS {schema};
-- Nobody but the owner and these two roles may connect, or create anything outside the schema.
REVOKE ALL ON DATABASE {database} FROM PUBLIC;
GRANT CONNECT ON DATABASE {database} TO {loader}, {analyst};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;
-- The loader writes the analytics schema and nothing else.
GRANT USAGE, CREATE ON SCHEMA {schema} TO {loader};
-- Analysts read every table in it, including the ones each load creates.
GRANT USAGE ON SCHEMA {schema} TO {analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {analyst};
ALTER DEFAULT PRIVILEGES FOR ROLE {loader} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {analyst};
