"""
### Lakehouse master pipeline

RAW -> BRONZE -> SILVER -> GOLD -> WAREHOUSE in strict order, one run at a time, stopping at
the first failure. BRONZE runs two parallel branches: every file dataset of the registry
(`config/datasets.yaml`) is ingested from RAW, and the operational database tables are read over
JDBC. The same file runs under every profile (`LAKEHOUSE_PROFILE`).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import chain, dag, task

from lakehouse.airflow_env import MASTER_DAG_ID
from lakehouse.config import load_profile
from lakehouse.dag_factory import RUN_KEY, db_to_bronze_job, spark_job
from lakehouse.registry import registry

PROFILE = load_profile()  # a bad profile fails the import with the file and key named
REGISTRY = registry()


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
    def validate_config() -> list[str]:
        """Re-validate the profile and registry at run time, before anything touches data."""
        from lakehouse.registry import load_registry

        load_profile()
        return sorted(load_registry().file_datasets)

    @task(max_active_tis_per_dagrun=2)
    def raw_to_bronze(dataset: str) -> dict:
        """Validate each RAW file by content; copy to BRONZE or quarantine; then delete RAW."""
        from lakehouse.ingest import ingest_dataset

        summary = ingest_dataset(load_profile(), dataset)
        summary.pop("files")  # the per-file records are in the ingestion log
        return summary

    datasets = validate_config()
    files_to_bronze = raw_to_bronze.expand(dataset=datasets)
    db_to_bronze = db_to_bronze_job(PROFILE, REGISTRY.source_tables_json())

    bronze_to_silver = spark_job(
        PROFILE,
        "bronze_to_silver",
        "bronze_to_silver.py",
        {
            "specs": REGISTRY.silver_specs_json(),
            "bronze_root": PROFILE.spark_uri("bronze").rstrip("/"),
            "silver_root": PROFILE.spark_uri("silver").rstrip("/"),
            "quarantine_root": PROFILE.spark_uri("quarantine", "rows"),
            "batch_id": RUN_KEY,
            "metrics_path": PROFILE.spark_uri("metrics", f"runs/{RUN_KEY}/bronze_to_silver"),
        },
    )
    silver_to_gold = spark_job(
        PROFILE,
        "silver_to_gold",
        "silver_to_gold.py",
        {
            "silver_root": PROFILE.spark_uri("silver").rstrip("/"),
            "bronze_root": PROFILE.spark_uri("bronze").rstrip("/"),
            "gold_root": PROFILE.spark_uri("gold").rstrip("/"),
            "export_root": PROFILE.spark_uri("gold", "_export"),
            "metrics_path": PROFILE.spark_uri("metrics", f"runs/{RUN_KEY}/silver_to_gold"),
        },
    )

    @task
    def load_warehouse() -> dict:
        """Stage every gold table, check it against GOLD, swap all in one transaction."""
        from airflow.sdk.exceptions import AirflowFailException

        from lakehouse import warehouse

        try:
            return warehouse.load(load_profile()).as_dict()
        except warehouse.ValidationFailed as exc:  # a retry would load the same data again
            raise AirflowFailException(str(exc)) from exc

    @task
    def validate_warehouse() -> dict:
        """Row counts, sums and distinct counts of the live tables against GOLD."""
        from airflow.sdk.exceptions import AirflowFailException

        from lakehouse import warehouse

        try:
            return warehouse.validate(load_profile())
        except warehouse.ValidationFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    datasets >> db_to_bronze
    chain([files_to_bronze, db_to_bronze], bronze_to_silver, silver_to_gold)
    chain(silver_to_gold, load_warehouse(), validate_warehouse())


lakehouse_master()
