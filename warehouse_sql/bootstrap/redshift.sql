-- Warehouse bootstrap for Redshift Serverless, run by an admin through the Data API. The
-- loader is the database user of the profile's secret; the analyst role is granted to people.
-- Placeholders are validated identifiers, quoted by lakehouse/warehouse/sql.py.
CREATE SCHEMA IF NOT EXISTS {schema};
-- The loader writes the analytics schema and nothing else.
GRANT USAGE, CREATE ON SCHEMA {schema} TO {loader};
-- Analysts read every table in it, including the ones each load creates.
GRANT USAGE ON SCHEMA {schema} TO ROLE {analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO ROLE {analyst};
ALTER DEFAULT PRIVILEGES FOR USER {loader} IN SCHEMA {schema} GRANT SELECT ON TABLES TO ROLE {analyst};
