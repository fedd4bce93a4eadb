-- Warehouse bootstrap for Redshift Serverless, run by an admin through the Data API. The
-- loader is the database user of the profile's secret; the analyst and pii reader roles are
-- granted to people. Placeholders are validated identifiers, quoted by
-- lakehouse/warehouse/sql.py; {restricted} is {schema}_restricted, where tables of personal
-- data live (docs/pii.md).
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE SCHEMA IF NOT EXISTS {restricted};
-- The loader writes the two schemas and nothing else.
GRANT USAGE, CREATE ON SCHEMA {schema} TO {loader};
GRANT USAGE, CREATE ON SCHEMA {restricted} TO {loader};
-- Analysts read every table in the analytics schema, including the ones each load creates.
GRANT USAGE ON SCHEMA {schema} TO ROLE {analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO ROLE {analyst};
ALTER DEFAULT PRIVILEGES FOR USER {loader} IN SCHEMA {schema} GRANT SELECT ON TABLES TO ROLE {analyst};
-- Personal data: the pii reader role, and only it, reads the restricted schema.
REVOKE ALL ON SCHEMA {restricted} FROM PUBLIC;
GRANT USAGE ON SCHEMA {restricted} TO ROLE {pii_reader};
GRANT SELECT ON ALL TABLES IN SCHEMA {restricted} TO ROLE {pii_reader};
ALTER DEFAULT PRIVILEGES FOR USER {loader} IN SCHEMA {restricted} GRANT SELECT ON TABLES TO ROLE {pii_reader}
