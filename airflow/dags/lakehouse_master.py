"""
### Lakehouse master pipeline

RAW -> BRONZE -> SILVER -> GOLD -> WAREHOUSE for the `events` dataset, in strict order, one
run at a time, stopping at the first failure. The same file runs under every profile
(`LAKEHOUSE_PROFILE`): only the connections and paths it reads from the profile differ.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import chain, dag, task

from lakehouse.airflow_env import MASTER_DAG_ID, SPARK_CONN_ID
from lakehouse.config import load_profile
from lakehouse.spark_conf import jar_paths, spark_conf

PROFILE = load_profile()  # a bad profile fails the import with the file and key named
JOBS = Path(__file__).resolve().parents[2] / "spark_jobs"
RUN_KEY = "{{ dag_run.run_id | replace(':', '-') | replace('+', '_') }}"
DATASET = "events"
GOLD_TABLE = "daily_event_counts"


def spark_job(task_id: str, script: str, args: dict[str, str]) -> SparkSubmitOperator:
    """A Glue-compatible job script submitted to the profile's Spark cluster."""
    argv: list[str] = []
    for name, value in args.items():
        argv += [f"--{name}", value]
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=str(JOBS / script),
        application_args=argv,
        conf=spark_conf(PROFILE),
        jars=",".join(jar_paths()),
        name=f"{MASTER_DAG_ID}.{task_id}",
        doc_md=f"Runs `spark_jobs/{script}` (Glue-compatible) on the Spark cluster.",
    )


@dag(
    dag_id=MASTER_DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=15), "owner": "data-platform"},
    tags=["lakehouse", "master", PROFILE.name],
)
def lakehouse_master() -> None:
    @task
    def validate_config() -> str:
        """Re-validate the profile at run time, before anything touches data."""
        return load_profile().name

    @task
    def raw_to_bronze() -> dict:
        """Validate each RAW file by content; copy to BRONZE or quarantine; then delete RAW."""
        from lakehouse.ingest import ingest_dataset

        return ingest_dataset(load_profile(), DATASET)

    bronze_to_silver = spark_job(
        "bronze_to_silver",
        "bronze_to_silver.py",
        {
            "bronze_path": PROFILE.spark_uri("bronze", DATASET),
            "silver_path": PROFILE.spark_uri("silver", DATASET),
            "quarantine_path": PROFILE.spark_uri("quarantine", f"rows/{DATASET}"),
            "metrics_path": PROFILE.spark_uri("metrics", f"runs/{RUN_KEY}/bronze_to_silver"),
        },
    )
    silver_to_gold = spark_job(
        "silver_to_gold",
        "silver_to_gold.py",
        {
            "silver_path": PROFILE.spark_uri("silver", DATASET),
            "gold_path": PROFILE.spark_uri("gold", GOLD_TABLE),
            "export_path": PROFILE.spark_uri("gold", f"_export/{GOLD_TABLE}"),
            "metrics_path": PROFILE.spark_uri("metrics", f"runs/{RUN_KEY}/silver_to_gold"),
        },
    )

    @task
    def load_warehouse() -> dict:
        """COPY the gold export into a staging table and swap it in, in one transaction."""
        from lakehouse import warehouse

        profile = load_profile()
        data = warehouse.read_export(profile, f"_export/{GOLD_TABLE}")
        result = warehouse.load_table(profile, GOLD_TABLE, data, "event_count")
        return {"table": result.table, "rows": result.rows, "checksum": result.checksum}

    @task
    def validate_warehouse() -> dict:
        """Row count and checksum of the live table against GOLD."""
        from lakehouse import warehouse

        profile = load_profile()
        data = warehouse.read_export(profile, f"_export/{GOLD_TABLE}")
        result = warehouse.validate_table(profile, GOLD_TABLE, data, "event_count")
        return {"table": result.table, "rows": result.rows, "checksum": result.checksum}

    chain(
        validate_config(),
        raw_to_bronze(),
        bronze_to_silver,
        silver_to_gold,
        load_warehouse(),
        validate_warehouse(),
    )


lakehouse_master()
