-- warehouse-db (docker-compose.yml): the PostgreSQL image runs this once, on an empty data
-- volume, as POSTGRES_USER (the profile's warehouse user) connected to POSTGRES_DB (warehouse).
-- It adds the operational source database next to the warehouse, both owned by that user, as
-- the native services do (lakehouse/platform/postgres.py). Database names: config/profiles/compose.yaml
-- (warehouse.database, source_db.database, warehouse.schema; checked by the unit tests).
CREATE DATABASE operational;

-- airflow-init's `lakehouse warehouse bootstrap` creates it too, with the loader and analyst roles
-- and their grants; creating it here lets `make psql` users see it before that.
CREATE SCHEMA IF NOT EXISTS analytics;
