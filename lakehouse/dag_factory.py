"""Backend-neutral task factories shared by the generated DAGs (airflow/dags/).

The profile decides what each factory returns: a SparkSubmitOperator against the profile's
Spark master, an S3KeySensor or a FileSensor (both deferrable, on the triggerer).
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from lakehouse.airflow_env import AWS_CONN_ID, FS_CONN_ID, MASTER_DAG_ID, SPARK_CONN_ID
from lakehouse.config import GlueSpark, Profile, S3Store
from lakehouse.paths import REPO_ROOT
from lakehouse.spark_conf import jar_paths, spark_conf

JOBS = REPO_ROOT / "spark_jobs"
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
    """A Glue-compatible job script run on the profile's Spark: spark-submit against the
    profile's master, or the deployed Glue job (deferrable) with the same arguments."""
    if isinstance(profile.spark, GlueSpark):
        from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

        if env:
            raise ValueError(
                f"{task_id}: environment variables cannot reach a Glue job; "
                "use a secret reference in the job arguments"
            )
        return GlueJobOperator(
            task_id=task_id,
            job_name=glue_job_name(profile, task_id),
            script_args={f"--{name}": value for name, value in args.items()},
            aws_conn_id=AWS_CONN_ID,
            region_name=getattr(profile.object_store, "region", None),
            wait_for_completion=True,
            deferrable=True,
            verbose=True,
            doc_md=f"Runs the deployed Glue job for `spark_jobs/{script}`.",
            **kwargs,
        )
    argv: list[str] = []
    for name, value in args.items():
        argv += [f"--{name}", value]
    return _spark_submit_class()(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=str(JOBS / script),
        application_args=argv,
        conf=spark_conf(profile),
        jars=",".join(jar_paths()),
        name=f"{MASTER_DAG_ID}.{task_id}",
        env_vars=env,
        doc_md=f"Runs `spark_jobs/{script}` (Glue-compatible) on the profile's Spark.",
        **kwargs,
    )


def glue_job_name(profile: Profile, task_id: str) -> str:
    """The Glue job the deploy creates for a job script (`<prefix>-<task id>`)."""
    assert isinstance(profile.spark, GlueSpark)
    return f"{profile.spark.job_prefix}-{task_id.replace('_', '-')}"


@cache
def _spark_submit_class():
    """SparkSubmitOperator that fails without retries when the job failed its data-quality
    checks (recorded in its metrics): rerunning the same data cannot pass them."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.exceptions import AirflowFailException

    class LakehouseSparkSubmitOperator(SparkSubmitOperator):
        def execute(self, context):
            try:
                return super().execute(context)
            except Exception as exc:
                from lakehouse.config import load_profile
                from lakehouse.run_summary import failed_checks, read_metrics
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

    return LakehouseSparkSubmitOperator


def file_sensor(profile: Profile, dataset: str, timeout: timedelta, **kwargs: Any):
    """Waits, deferred on the triggerer, for any object under raw/<dataset>/."""
    store = profile.object_store
    common = {
        "task_id": "wait_for_files",
        "deferrable": True,
        "poke_interval": 15,
        "timeout": timeout.total_seconds(),
        "soft_fail": True,  # nothing landed in this window: the run is skipped, not failed
        **kwargs,
    }
    if isinstance(store, S3Store):
        from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

        return S3KeySensor(
            bucket_name=profile.zones.raw,
            bucket_key=f"{dataset}/*",
            wildcard_match=True,
            aws_conn_id=AWS_CONN_ID,
            **common,
        )
    from airflow.providers.standard.sensors.filesystem import FileSensor

    return FileSensor(
        filepath=str(Path(store.root_path) / profile.zones.raw / dataset / "*"),
        fs_conn_id=FS_CONN_ID,
        recursive=True,
        **common,
    )


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
