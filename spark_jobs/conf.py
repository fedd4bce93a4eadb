"""The Spark settings every session of the project gets, on every platform.

No pyspark import here: the DAG file, the launchers and `lakehouse deploy` read these settings
where pyspark is not installed (an Airflow worker, MWAA) or would only slow the DAG parse.
"""

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    # Parquet timestamps as INT64 microseconds (the Parquet standard) instead of legacy INT96,
    # which Redshift's Parquet COPY and most readers expect.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # The plan text the driver renders for the SQL tab of the Spark UI at every query: the
    # default "formatted" one cost about a seventh of SILVER's CPU on the sample (measured,
    # benchmarks/NOTES.md); the simple tree still shows every operator.
    "spark.sql.ui.explainMode": "simple",
}
