"""Backend-neutral task factories shared by the generated DAGs (airflow/dags/).

The profile's backends (lakehouse/backends/) decide what each factory returns: a
SparkSubmitOperator or a GlueJobOperator, an S3KeySensor or a FileSensor (both deferrable).
"""

from __future__ import annotations

import json
import warnings
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
    timeout = kwargs.get("execution_timeout")
    with warnings.catch_warnings():
        # Before Airflow 3.3 the Glue operator's `resume_glue_job_on_retry` is the only way to
        # reattach a retry to its run; its deprecation speaks of 3.3 (backends/spark.py).
        warnings.filterwarnings("ignore", message="`resume_glue_job_on_retry` is deprecated")
        return operator(**runner.operator_args(task_id, script, args, env, timeout), **kwargs)


@cache
def _stops_on_failed_checks(operator: type) -> type:
    """`operator`, failing without retries when the job failed its data-quality checks
    (recorded in its metrics, or named by the job's DataQualityFailed error in the failure a
    Glue run reports): rerunning the same data cannot pass them. Covers both the task's first
    part and, for a deferrable operator, its resumption after the trigger fired (where a Glue
    run's failure surfaces)."""

    class StopsOnFailedChecks(operator):
        def execute(self, context):
            try:
                return super().execute(context)
            except Exception as exc:
                _raise_if_checks_failed(self.task_id, context, exc)
                raise

        def resume_execution(self, next_method, next_kwargs, context):
            try:
                return super().resume_execution(next_method, next_kwargs, context)
            except Exception as exc:
                _raise_if_checks_failed(self.task_id, context, exc)
                raise

    StopsOnFailedChecks.__name__ = StopsOnFailedChecks.__qualname__ = (
        f"Lakehouse{operator.__name__}"
    )
    return StopsOnFailedChecks


def _raise_if_checks_failed(task_id: str, context, exc: BaseException) -> None:
    """AirflowFailException (no retry) when `exc` is a job's failed data-quality checks."""
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse.config import load_profile
    from lakehouse.report.run_summary import failed_checks, read_metrics
    from spark_jobs.checks import DQ_ERROR, describe_failed

    try:
        metrics = read_metrics(load_profile(), context["run_id"], task_id)
    except Exception:  # the metrics are unreadable: keep the original failure
        metrics = None
    failed = failed_checks(metrics)
    if failed:
        raise AirflowFailException(
            f"{task_id}: data quality checks failed (not retried):\n" + describe_failed(failed)
        ) from exc
    if DQ_ERROR in str(exc):
        raise AirflowFailException(
            f"{task_id}: data quality checks failed (not retried): {exc}"
        ) from exc


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
    login_ref, env = db.job_login()  # an env variable locally, a Secrets Manager ARN on Glue
    return spark_job(
        profile,
        task_id,
        "db_to_bronze.py",
        {
            "jdbc_url": db.jdbc_url(),
            "jdbc_login": login_ref,
            "tables": tables_json,
            "bronze_root": profile.spark_uri("bronze").rstrip("/"),
            "batch_id": RUN_KEY,
            "metrics_path": profile.spark_uri("metrics", f"runs/{RUN_KEY}/db_to_bronze"),
        },
        env=env or None,
        **kwargs,
    )
