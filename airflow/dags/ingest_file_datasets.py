"""
### Event-driven RAW -> BRONZE ingestion, one DAG per file dataset

Generated from the registry (`config/datasets.yaml`). Each DAG runs on a short schedule; its
first task is a deferrable sensor (S3KeySensor on S3-compatible stores, FileSensor on the
embedded profile's filesystem) that waits on the triggerer, using no worker slot, for any
object under `raw/<dataset>/`. When files land they are ingested without anyone pressing a
button; when none land within the window the run is skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from lakehouse.config import load_profile
from lakehouse.dag_factory import file_sensor
from lakehouse.registry import registry

PROFILE = load_profile()


def build(dataset: str, owner: str, every_minutes: int) -> DAG:
    window = timedelta(minutes=every_minutes)
    with DAG(
        dag_id=f"ingest_{dataset}",
        schedule=window,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        doc_md=__doc__,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=30), "owner": owner},
        tags=["lakehouse", "bronze", "ingestion", dataset],
    ) as dag:

        @task
        def ingest(name: str) -> dict:
            """Validate each RAW file by content; copy to BRONZE or quarantine; delete RAW."""
            from lakehouse.ingest import ingest_dataset

            summary = ingest_dataset(load_profile(), name)
            summary.pop("files")
            return summary

        # The sensor gives up a little before the next run is due.
        file_sensor(PROFILE, dataset, window - timedelta(seconds=30)) >> ingest(dataset)
    return dag


for _name, _spec in registry().file_datasets.items():
    globals()[f"ingest_{_name}"] = build(_name, _spec.owner, _spec.sensor_schedule_minutes)
