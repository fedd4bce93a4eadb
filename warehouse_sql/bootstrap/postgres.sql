-- Warehouse bootstrap for PostgreSQL, run by the database owner (`lakehouse warehouse
-- bootstrap`; the native services and the Compose stack run it on start). The loader, analyst
-- and pii reader login roles are created by the same command first (their passwords come from
-- the profile). Placeholders are validated identifiers, quoted by lakehouse/warehouse/sql.py;
-- {restricted} is {schema}_restricted, where tables of personal data live (docs/pii.md).
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE SCHEMA IF NOT EXISTS {restricted};
-- Nobody but the owner and these three roles may connect, or create anything outside the schemas.
REVOKE ALL ON DATABASE {database} FROM PUBLIC;
GRANT CONNECT ON DATABASE {database} TO {loader}, {analyst}, {pii_reader};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;
REVOKE ALL ON SCHEMA {restricted} FROM PUBLIC;
-- The loader writes the two schemas and nothing else.
GRANT USAGE, CREATE ON SCHEMA {schema} TO {loader};
GRANT USAGE, CREATE ON SCHEMA {restricted} TO {loader};
-- Analysts read every table in the analytics schema, including the ones each load creates.
GRANT USAGE ON SCHEMA {schema} TO {analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {analyst};
ALTER DEFAULT PRIVILEGES FOR ROLE {loader} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {analyst};
-- Personal data: the pii reader, and only it, reads the restricted schema (analysts hold
-- nothing there, whatever was granted before).
REVOKE ALL ON SCHEMA {restricted} FROM {analyst};
REVOKE ALL ON ALL TABLES IN SCHEMA {restricted} FROM {analyst};
GRANT USAGE ON SCHEMA {restricted} TO {pii_reader};
GRANT SELECT ON ALL TABLES IN SCHEMA {restricted} TO {pii_reader};
ALTER DEFAULT PRIVILEGES FOR ROLE {loader} IN SCHEMA {restricted} GRANT SELECT ON TABLES TO {pii_reader};
