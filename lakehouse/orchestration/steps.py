"""What the master's and the ingestion DAGs' Python tasks do, one function per task body; the
DAG builders (dags.py) wrap them in tasks with their timeouts and retries. Imports are inside
the functions: the DAG file parses these names on every parse, and runs them only in a task."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def ingest_summary(dataset: str) -> dict:
    """The body of every ingestion task: RAW -> BRONZE for one dataset; the per-file records
    stay in the ingestion log, the counts go to XCom."""
    from lakehouse.config import load_profile
    from lakehouse.ingest import ingest_dataset

    summary = ingest_dataset(load_profile(), dataset)
    summary.pop("files")
    return summary


def warehouse_step(step: str) -> dict:
    """`load` or `validate` the warehouse; figures that differ from GOLD fail the task without
    retries (a retry would meet the same data)."""
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse import warehouse
    from lakehouse.config import load_profile

    try:
        if step == "load":
            return warehouse.load(load_profile()).as_dict()
        return warehouse.validate(load_profile())
    except warehouse.ValidationFailed as exc:
        raise AirflowFailException(str(exc)) from exc


def summarise_run(dag_run, ti) -> dict:
    """Rows per layer (from the jobs' metrics and the tasks' results) and every task's state,
    written to the metrics zone as runs/<run>/summary.json with the HTML run report next to it
    (report.html); then fails the run if a task failed."""
    from airflow.sdk.exceptions import AirflowFailException

    from lakehouse import report
    from lakehouse.config import load_profile
    from lakehouse.report.run_summary import collect

    profile = load_profile()
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[dag_run.run_id])
    try:  # every mapped instance's result (a lone instance comes back unwrapped)
        ingestion = ti.xcom_pull(task_ids="raw_to_bronze") or []
        ingestion = [ingestion] if isinstance(ingestion, dict) else list(ingestion)
        loaded = ti.xcom_pull(task_ids="load_warehouse")
    except Exception:  # the summary still records the states and the jobs' metrics
        log.exception("the tasks' results could not be read")
        ingestion, loaded = [], None
    started = dag_run.start_date.timestamp() if dag_run.start_date else None
    summary = collect(
        profile,
        dag_run.run_id,
        states.get(dag_run.run_id, {}),
        ingestion,
        loaded if isinstance(loaded, dict) else None,
        started,
    )
    try:
        log.info("run report: %s", report.write(profile, summary))
    except Exception:  # the report is a view: its failure must not hide the run's
        log.exception("the run report could not be written")
    if summary["failed_tasks"]:
        raise AirflowFailException(f"run failed: {summary['failed_tasks']}")
    return summary
