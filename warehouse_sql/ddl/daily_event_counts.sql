-- GOLD mart daily_event_counts. Column order equals the gold Parquet export (COPY loads by
-- position). {schema} and {table} are filled in by the loader (staging table, then swap).
CREATE TABLE {schema}.{table} (
    event_date   DATE         NOT NULL,
    event_type   VARCHAR(32)  NOT NULL,
    event_count  BIGINT       NOT NULL,
    unique_users BIGINT       NOT NULL,
    PRIMARY KEY (event_date, event_type)
);
