"""One ingestion DAG (Airflow) per file dataset of config/datasets.yaml, `ingest_<dataset>`: a
sensor waits for files under the dataset's RAW prefix, then they are ingested into BRONZE
(checked by content, copied, verified, logged, removed from RAW). A dataset added to the
registry gets its DAG here with no code; the building blocks are in lakehouse/orchestration/.
"""

from lakehouse.orchestration.dags import ingestion_dags

globals().update({dag.dag_id: dag for dag in ingestion_dags()})
