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


def landed_summary(dataset: str, asset, outlet_events) -> dict:
    """The body of every ingestion DAG's task: ingestion as above, then the asset event of
    `bronze/<dataset>` (its extra: the files and bytes landed) when a file reached BRONZE; when
    none did (nothing new, all quarantined, or the master's run took them) the task is skipped
    and no event starts a pipeline run."""
    from airflow.sdk.exceptions import AirflowSkipException

    summary = ingest_summary(dataset)
    if not summary["files_bronze"]:
        raise AirflowSkipException(f"nothing landed in BRONZE: {summary}")
    event = outlet_events[asset]
    event.extra = {"files": summary["files_bronze"], "bytes": summary["bytes"]}
    return summary


def settle_landings(dag_run, ti, events, datasets: list[str], settle_s: float, settle_max_s: float):
    """The master's first task, a sensor (orchestration/landing.py): at
    once for a manual or scheduled run; for a run started by landings, skipped when nothing it
    was started for is new or another run is queued behind it, else done when the burst has
    settled. Its XCom (the landings, how long they took to settle) goes into the run's
    summary."""
    from datetime import UTC, datetime

    from airflow.sdk import PokeReturnValue
    from airflow.sdk.exceptions import AirflowSkipException

    from lakehouse.backends.storage import object_store
    from lakehouse.config import load_profile
    from lakehouse.orchestration import landing

    landings = landing.Landings.from_events(events)
    waited = (datetime.now(UTC) - dag_run.start_date).total_seconds()
    cutoff, queued, pending = None, 0, 0
    if landings.at:
        # Airflow first: a run queued behind this one settles it without the object store.
        queued = ti.get_dr_count(dag_id=dag_run.dag_id, states=["queued"])
    if landings.at and not queued:
        profile = load_profile()
        store = object_store(profile)
        cutoff = landing.read_cutoff(store, profile)
        pending = landing.raw_files(store, profile, datasets)
    decision, why = landing.decide(
        landings, cutoff, queued, waited, pending, settle_s, settle_max_s
    )
    log.info("%s: %s (landings %s, previous cutoff %s)", decision, why, landings.by_asset, cutoff)
    if decision == landing.SKIP:
        ti.xcom_push(key="skipped", value=why)  # for the run's summary
        raise AirflowSkipException(why)
    if decision == landing.WAIT:
        return PokeReturnValue(is_done=False)
    return PokeReturnValue(
        is_done=True,
        xcom_value={
            "landings": dict(landings.by_asset),
            "settled_s": round(waited, 1),
            "raw_files": pending,
        },
    )


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
    states = states.get(dag_run.run_id, {})
    try:  # every mapped instance's result (a lone instance comes back unwrapped)
        ingestion = ti.xcom_pull(task_ids="raw_to_bronze") or []
        ingestion = [ingestion] if isinstance(ingestion, dict) else list(ingestion)
        loaded = ti.xcom_pull(task_ids="load_warehouse")
        settled = ti.xcom_pull(task_ids="settle_landings")
        skipped = ti.xcom_pull(task_ids="settle_landings", key="skipped")
    except Exception:  # the summary still records the states and the jobs' metrics
        log.exception("the tasks' results could not be read")
        ingestion, loaded, settled, skipped = [], None, None, None
    trigger = {"run_type": str(getattr(dag_run.run_type, "value", dag_run.run_type))}
    if isinstance(settled, dict):
        trigger.update(settled)
    elif skipped:
        trigger["skipped"] = skipped
    started = dag_run.start_date.timestamp() if dag_run.start_date else None
    summary = collect(
        profile,
        dag_run.run_id,
        states,
        ingestion,
        loaded if isinstance(loaded, dict) else None,
        started,
        trigger,
    )
    try:
        from lakehouse.backends.storage import object_store
        from lakehouse.orchestration import landing

        landing.record_cutoff(object_store(profile), profile, summary)
    except Exception:  # only costs a run started by landings this run already read
        log.exception("the landing cutoff could not be recorded")
    try:
        log.info("run report: %s", report.write(profile, summary))
    except Exception:  # the report is a view: its failure must not hide the run's
        log.exception("the run report could not be written")
    if summary["failed_tasks"]:
        raise AirflowFailException(f"run failed: {summary['failed_tasks']}")
    return summary
