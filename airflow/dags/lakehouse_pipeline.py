"""The master pipeline `lakehouse_pipeline` (an Airflow DAG): RAW -> BRONZE -> SILVER -> GOLD ->
WAREHOUSE, one run at a time, strictly ordered, stopping at the first failure.

Built from config/datasets.yaml (which file datasets and operational tables BRONZE takes),
config/pipelines.yaml (schedule, retries, timeouts, alerts) and the profile (which operators:
spark-submit or Glue, S3 or files); the building blocks are in lakehouse/orchestration/. A bad
profile, registry or pipelines file fails this import with one error naming the file and the
key, instead of a DAG silently missing.
"""

from lakehouse.orchestration.dags import master_dag

lakehouse_pipeline = master_dag()
