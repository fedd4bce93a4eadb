"""The master DAG's first task: everything a run needs, checked before any job starts.

Checks the profile, the dataset registry, the orchestration settings, the warehouse table
definitions, the Airflow connections the operators use, the job scripts and (for a local Spark)
the jars. Every problem is listed in one non-retryable failure: a retry would fail the same way.
"""

from __future__ import annotations

from lakehouse.backends import backends
from lakehouse.config import ConfigError, load_profile
from lakehouse.paths import REPO_ROOT

JOB_SCRIPTS = ("bronze_to_silver.py", "silver_to_gold.py", "db_to_bronze.py", "runtime.py")


def required_connections(profile) -> list[str]:
    """The Airflow connections the object store's and the Spark runner's tasks use."""
    roles = backends(profile)
    return [*roles.store.airflow_connections(), *roles.spark.airflow_connections()]


def problems(datasets: list[str]) -> tuple[list[str], dict]:
    from lakehouse.config.pipelines import load_pipelines
    from lakehouse.config.registry import load_registry
    from lakehouse.warehouse.sql import table_defs

    found: list[str] = []
    facts: dict = {}
    try:
        profile = load_profile()
        facts["profile"] = profile.name
    except ConfigError as exc:
        return [str(exc)], facts
    loaded: dict = {}
    for name, load in (
        ("registry", load_registry),
        ("pipelines", load_pipelines),
        ("warehouse", table_defs),
    ):
        try:
            loaded[name] = load()
        except ConfigError as exc:
            found.append(str(exc))
    if "warehouse" in loaded:
        facts["warehouse_tables"] = len(loaded["warehouse"])
    if "registry" in loaded:
        known = set(loaded["registry"].file_datasets)
        unknown = sorted(set(datasets) - known)
        if unknown:
            found.append(f"params.datasets: unknown datasets {unknown} (registry: {sorted(known)})")
    from airflow.sdk import BaseHook

    for conn_id in required_connections(profile):
        try:
            BaseHook.get_connection(conn_id)
        except Exception as exc:  # AirflowNotFoundException, or a malformed AIRFLOW_CONN_*
            found.append(
                f"Airflow connection {conn_id!r} is missing or invalid ({exc}); the services "
                f"set it from the profile (lakehouse/platform/airflow_env.py)"
            )
    missing = [s for s in JOB_SCRIPTS if not (REPO_ROOT / "spark_jobs" / s).is_file()]
    if missing:
        found.append(f"job scripts missing under spark_jobs/: {missing}")
    found += backends(profile).spark.preflight_problems()
    return found, facts


def preflight(datasets: list[str]) -> dict:
    """The validated configuration, for the next tasks (XCom), or a non-retryable failure."""
    from airflow.sdk.exceptions import AirflowFailException

    found, facts = problems(datasets)
    if found:
        raise AirflowFailException("configuration invalid: " + " | ".join(found))
    return {**facts, "datasets": sorted(datasets)}
