"""Every lakehouse DAG (the Airflow DAG file), generated from config (lakehouse/dags.py): the
master pipeline `lakehouse_pipeline` and one `ingest_<dataset>` per file dataset of
config/datasets.yaml. Airflow discovers it by the words "airflow" and "dag" in it.
A bad profile, registry or pipelines file fails this import with one error naming the file and
the key, instead of a DagBag with some DAGs silently missing.
"""

from lakehouse.dags import build_all

globals().update(build_all())
