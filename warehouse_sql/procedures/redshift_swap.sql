-- The Redshift swap: replaces each named live table of {schema} by its staging table
-- (<name>__staging). It runs in the caller's transaction, and the Data API runs a batch as one
-- transaction, so one batch (this CREATE, then CALLs) swaps any number of tables all or
-- nothing, within BatchExecuteStatement's limit of 40 statements. The names are a
-- comma-separated list of identifiers validated by lakehouse/warehouse/sql.py. Plain PL/pgSQL:
-- the integration tests run the same text on PostgreSQL.
CREATE OR REPLACE PROCEDURE {schema}.{procedure}(table_names VARCHAR(65535))
AS $$
DECLARE
  i INTEGER := 1;
  live VARCHAR(128);
BEGIN
  LOOP
    live := split_part(table_names, ',', i);
    EXIT WHEN live = '';
    EXECUTE 'DROP TABLE IF EXISTS {schema}.' || quote_ident(live);
    EXECUTE 'ALTER TABLE {schema}.' || quote_ident(live || '{suffix}')
      || ' RENAME TO ' || quote_ident(live);
    i := i + 1;
  END LOOP;
END;
$$ LANGUAGE plpgsql
