"""Backend-neutral task factories shared by the generated DAGs (airflow/dags/).

The profile's backends (lakehouse/backends/) decide what each factory returns: a
SparkSubmitOperator or a GlueJobOperator, an S3KeySensor or a FileSensor (both deferrable).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from lakehouse.backends import backends
from lakehouse.config import Profile

# Object-store-safe run key (Airflow run ids carry ':' and '+', which Hadoop paths reject).
RUN_KEY = "{{ dag_run.run_id | replace(':', '-') | replace('+', '_') }}"


def spark_job(
    profile: Profile,
    task_id: str,
    script: str,
    args: dict[str, str],
    env: dict[str, str] | None = None,
    **kwargs: Any,
):
    """A Glue-compatible job script run by the profile's Spark runner: spark-submit against
    its master, or the deployed Glue job (deferrable), with the same arguments."""
    return backends(profile).spark.job_task(task_id, script, args, env, **kwargs)


def file_sensor(profile: Profile, dataset: str, timeout: timedelta, **kwargs: Any):
    """Waits, deferred on the triggerer, for any object under raw/<dataset>/."""
    common = {
        "task_id": "wait_for_files",
        "deferrable": True,
        "poke_interval": 15,
        "timeout": timeout.total_seconds(),
        "soft_fail": True,  # nothing landed in this window: the run is skipped, not failed
        **kwargs,
    }
    return backends(profile).store.file_sensor(profile.zones.raw, dataset, **common)


def db_to_bronze_job(
    profile: Profile, tables_json: str, task_id: str = "db_to_bronze", **kwargs: Any
):
    """The operational DB tables of the registry -> bronze Delta (full or incremental)."""
    db = profile.source_db
    if db is None:
        raise ValueError(f"profile {profile.name}: source_db is not configured")
    json.loads(tables_json)  # fail at parse time on a malformed registry dump
    return spark_job(
        profile,
        task_id,
        "db_to_bronze.py",
        {
            "jdbc_url": db.jdbc_url(),
            "jdbc_user": db.user,
            "tables": tables_json,
            "bronze_root": profile.spark_uri("bronze").rstrip("/"),
            "batch_id": RUN_KEY,
            "metrics_path": profile.spark_uri("metrics", f"runs/{RUN_KEY}/db_to_bronze"),
        },
        env={"LAKEHOUSE_JDBC_PASSWORD": db.password},
        **kwargs,
    )
