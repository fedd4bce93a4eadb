"""Backend-neutral task factories shared by the generated DAGs (airflow/dags/).

The profile's backends (lakehouse/backends/) decide what each factory returns: a
SparkSubmitOperator or a GlueJobOperator, an S3KeySensor or a FileSensor (both deferrable).
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
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
    runner = backends(profile).spark
    operator = _stops_on_failed_checks(runner.operator_class())
    return operator(**runner.operator_args(task_id, script, args, env), **kwargs)


@cache
def _stops_on_failed_checks(operator: type) -> type:
    """`operator`, failing without retries when the job failed its data-quality checks
    (recorded in its metrics): rerunning the same data cannot pass them."""
    from airflow.sdk.exceptions import AirflowFailException

    class StopsOnFailedChecks(operator):
        def execute(self, context):
            try:
                return super().execute(context)
            except Exception as exc:
                from lakehouse.config import load_profile
                from lakehouse.report.run_summary import failed_checks, read_metrics
                from spark_jobs.checks import describe_failed

                try:
                    metrics = read_metrics(load_profile(), context["run_id"], self.task_id)
                except Exception:  # the metrics are unreadable: keep the original failure
                    metrics = None
                failed = failed_checks(metrics)
                if failed:
                    raise AirflowFailException(
                        f"{self.task_id}: data quality checks failed (not retried):\n"
                        + describe_failed(failed)
                    ) from exc
                raise

    StopsOnFailedChecks.__name__ = StopsOnFailedChecks.__qualname__ = (
        f"Lakehouse{operator.__name__}"
    )
    return StopsOnFailedChecks


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
