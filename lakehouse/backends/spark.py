"""Where the job scripts run, side by side: spark-submit against a Spark master (the local
standalone cluster, or `local[n]` for the embedded profile) and AWS Glue (the jobs
`lakehouse deploy` created). Both run the same Glue-compatible scripts with the same arguments;
only the launcher differs."""

from __future__ import annotations

import math
from typing import Any

from lakehouse.backends.base import AWS_CONN_ID, SPARK_CONN_ID, SparkRunner, StoreBackend
from lakehouse.backends.spark_conf import CLUSTER_CORES, jar_paths, parallelism
from lakehouse.config import GlueSpark, SparkCluster
from lakehouse.paths import REPO_ROOT
from spark_jobs.conf import DELTA_CONF

JOBS = REPO_ROOT / "spark_jobs"
# The drivers' log level and format (warnings and errors, and where the application ran).
DRIVER_LOG_CONFIG = REPO_ROOT / "config" / "spark" / "log4j2.properties"
GLUE_POLL_SECONDS = 30  # how often the deferred trigger asks Glue for the run's state


class SparkSubmit(SparkRunner):
    def __init__(self, cfg: SparkCluster, store: StoreBackend) -> None:
        self.cfg = cfg
        self.store = store
        self.native_service = "spark" if cfg.kind == "standalone" else None

    def describe(self) -> str:
        return f"spark.kind={self.cfg.kind} ({self.cfg.master})"

    def conf(self) -> dict[str, str]:
        driver_options = (
            f"-Dlog4j.configurationFile={DRIVER_LOG_CONFIG} {self.cfg.driver_java_options}"
        )
        conf = {
            **DELTA_CONF,
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": self.cfg.driver_memory,
            "spark.driver.extraJavaOptions": driver_options.strip(),
            "spark.executor.memory": self.cfg.executor_memory,
            "spark.executor.cores": str(self.cfg.executor_cores),
            "spark.cores.max": str(CLUSTER_CORES),
            **parallelism(CLUSTER_CORES),
            **self.store.spark_conf(),
        }
        if executor_options := self.cfg.executor_java_options.strip():
            conf["spark.executor.extraJavaOptions"] = executor_options
        return conf

    def airflow_connections(self) -> dict[str, dict[str, Any]]:
        master = self.cfg.master
        conn: dict[str, Any] = {"conn_type": "spark", "host": master}
        if master.startswith("spark://"):
            host, _, port = master.rpartition(":")
            conn = {"conn_type": "spark", "host": host, "port": int(port)}
        return {SPARK_CONN_ID: conn}

    def preflight_problems(self) -> list[str]:
        from lakehouse.config.versions import missing_jars

        jars = missing_jars()
        return [f"Spark jars missing: {[p.name for p in jars]} (run `make jars`)"] if jars else []

    def operator_class(self):
        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

        return SparkSubmitOperator

    def operator_args(self, task_id, script, args, env=None, timeout=None) -> dict[str, Any]:
        from lakehouse.config.pipelines import MASTER_DAG_ID

        argv: list[str] = []
        for name, value in args.items():
            argv += [f"--{name}", value]
        return {
            "task_id": task_id,
            "conn_id": SPARK_CONN_ID,
            "application": str(JOBS / script),
            "application_args": argv,
            "conf": self.conf(),
            "jars": ",".join(jar_paths()),
            "name": f"{MASTER_DAG_ID}.{task_id}",
            "env_vars": env,
            "doc_md": f"Runs `spark_jobs/{script}` (Glue-compatible) on the profile's Spark.",
        }


def _reattach_on_retry() -> dict[str, bool]:
    """A retry reattaches to the Glue run its previous try started while that run is still
    going (found by the task's id in the run's arguments) instead of starting a second one,
    which MaxConcurrentRuns=1 would refuse with ConcurrentRunsExceeded. The provider calls it
    `durable` from Airflow 3.3 and ignores that name before, where `resume_glue_job_on_retry`
    does it (with a deprecation warning aimed at 3.3; tasks.spark_job mutes that one)."""
    from airflow.providers.amazon.version_compat import AIRFLOW_V_3_3_PLUS

    return {"durable": True} if AIRFLOW_V_3_3_PLUS else {"resume_glue_job_on_retry": True}


class Glue(SparkRunner):
    def __init__(self, cfg: GlueSpark, store: StoreBackend) -> None:
        self.cfg = cfg
        self.store = store

    def describe(self) -> str:
        return f"spark.kind=glue ({self.cfg.glue_version})"

    def conf(self) -> dict[str, str]:
        # The deploy passes these as the job's `--conf` argument (platform/deploy.py); S3 is
        # reached through Glue's own connector and role, with no settings.
        return dict(DELTA_CONF)

    def job_name(self, task_id: str) -> str:
        """The Glue job the deploy creates for a job script (`<prefix>-<task id>`)."""
        return f"{self.cfg.job_prefix}-{task_id.replace('_', '-')}"

    def deploy_target(self) -> Glue:
        return self

    def operator_class(self):
        from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

        return GlueJobOperator

    def job_timeout_minutes(self, task_id: str, task_minutes: float) -> int:
        """Glue's Timeout for the job of `task_id`: the task's execution timeout minus
        spark.stop_margin_minutes, so the Glue run ends before its task gives up on it."""
        margin = self.cfg.stop_margin_minutes
        minutes = int(task_minutes) - margin
        if minutes < 1:
            raise ValueError(
                f"{task_id}: master.execution_timeout_minutes ({task_minutes:g}) in "
                f"config/pipelines.yaml leaves no time for the Glue run once "
                f"spark.stop_margin_minutes ({margin}) is taken off: give the task more than "
                f"{margin + 1} minutes or lower the margin"
            )
        return minutes

    def operator_args(self, task_id, script, args, env=None, timeout=None) -> dict[str, Any]:
        if env:
            raise ValueError(
                f"{task_id}: environment variables cannot reach a Glue job; "
                "use a secret reference in the job arguments"
            )
        if timeout is None:
            raise ValueError(f"{task_id}: a Glue task needs its execution timeout")
        task_minutes = timeout.total_seconds() / 60
        self.job_timeout_minutes(task_id, task_minutes)  # refuses a timeout Glue cannot keep
        # The trigger's patience outlasts the task's timeout by the margin: the Glue run (its
        # timeout the margin below the task's) ends first and the trigger reports how.
        patience_s = (task_minutes + self.cfg.stop_margin_minutes) * 60
        return {
            "task_id": task_id,
            "job_name": self.job_name(task_id),
            "script_args": {f"--{name}": value for name, value in args.items()},
            "aws_conn_id": AWS_CONN_ID,
            "region_name": self.store.region,
            "wait_for_completion": True,
            "deferrable": True,
            "verbose": True,
            "waiter_delay": GLUE_POLL_SECONDS,
            "waiter_max_attempts": math.ceil(patience_s / GLUE_POLL_SECONDS),
            # A task killed (marked failed, timed out) stops its Glue run.
            "stop_job_run_on_kill": True,
            **_reattach_on_retry(),
            "doc_md": f"Runs the deployed Glue job for `spark_jobs/{script}`.",
        }
