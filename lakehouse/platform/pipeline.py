"""Driving the pipeline from outside Airflow: drop files into RAW, trigger the master DAG
through the real scheduler (Airflow's REST API), wait for the run, and summarise what it
produced. Used by the `lakehouse` CLI, `make demo` and the end-to-end tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakehouse.backends.storage import object_store
from lakehouse.config import Profile
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.paths import REPO_ROOT
from lakehouse.platform.airflow_api import AirflowApi
from lakehouse.platform.airflow_env import airflow_home

TERMINAL = {"success", "failed"}
ACTIVE = {"queued", "running"}
_CLIENTS: dict[tuple[str, int, str], AirflowApi] = {}


class PipelineError(RuntimeError):
    pass


def airflow(profile: Profile) -> AirflowApi:
    """The profile's REST client, logged in once per process."""
    settings = profile.airflow
    key = (settings.api_host, settings.api_port, settings.admin_user)
    if key not in _CLIENTS:
        _CLIENTS[key] = AirflowApi(profile)
    return _CLIENTS[key]


def wait_for_dag(profile: Profile, dag_id: str = MASTER_DAG_ID, timeout: float = 180) -> None:
    """Wait until the dag-processor has parsed dag_id; fail fast on import errors."""
    api = airflow(profile)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        errors = api.import_errors()
        if errors:
            raise PipelineError(f"DAG import errors: {json.dumps(errors, indent=2)}")
        if api.dag(dag_id) is not None:
            return
        time.sleep(3)
    raise PipelineError(f"DAG {dag_id} not parsed after {timeout:.0f}s; see the dag-processor log")


def trigger(profile: Profile, dag_id: str = MASTER_DAG_ID, conf: dict | None = None) -> str:
    return airflow(profile).trigger(dag_id, conf)


def _run_row(run: dict) -> dict:
    return {
        "run_id": run["dag_run_id"],
        "state": run["state"],
        "run_type": run.get("run_type"),
        "start_date": run["start_date"],
        "end_date": run["end_date"],
    }


def latest_runs(profile: Profile, dag_id: str = MASTER_DAG_ID, limit: int = 5) -> list[dict]:
    """The DAG's most recent runs, newest first: run_id, state, start and end."""
    return [_run_row(r) for r in airflow(profile).runs(dag_id, limit)]


def wait_until_idle(
    profile: Profile, dag_id: str = MASTER_DAG_ID, timeout: float = 1500, poll: float = 5
) -> None:
    """Wait until no run of the DAG is queued or running and no asset event waits to start one:
    a run started by landings in BRONZE may still be going when a test or the demo is about to
    reset the lake under it, and landings that came during a run start the next one only once
    it has ended (max_active_runs), a scheduler loop later."""
    client = airflow(profile)
    deadline = time.monotonic() + timeout
    while True:
        # The queue first: the scheduler turns queued events into a queued run in one
        # transaction, so read in this order, the one in between is seen in either.
        busy = [
            f"asset {e['asset_id']} event queued at {e['created_at']}"
            for e in client.queued_asset_events(dag_id)
        ]
        busy += [r["run_id"] for r in latest_runs(profile, dag_id, 20) if r["state"] in ACTIVE]
        if not busy:
            return
        if time.monotonic() > deadline:
            raise PipelineError(f"{dag_id} still has runs going after {timeout:.0f}s: {busy}")
        time.sleep(poll)


def get_run(profile: Profile, dag_id: str, run_id: str) -> dict:
    """One run: run_id, state, start and end."""
    return _run_row(airflow(profile).run(dag_id, run_id))


def run_state(profile: Profile, dag_id: str, run_id: str) -> str:
    return get_run(profile, dag_id, run_id)["state"]


def task_instances(profile: Profile, dag_id: str, run_id: str) -> list[dict]:
    """Every task instance of a run (mapped ones once per index): state, try number, times."""
    return airflow(profile).task_instances(dag_id, run_id)


def task_states(profile: Profile, dag_id: str, run_id: str) -> dict[str, str]:
    return {r["task_id"]: r["state"] for r in task_instances(profile, dag_id, run_id)}


def _log_folder(profile: Profile, dag_id: str, run_id: str, task_id: str) -> Path:
    home = airflow_home(profile)
    return home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"


def attempt_logs(profile: Profile, dag_id: str, run_id: str, task_id: str) -> list[Path]:
    """The attempt log files of a task in a run (of every map index), in order."""
    return sorted(_log_folder(profile, dag_id, run_id, task_id).rglob("attempt=*.log"))


def attempts(profile: Profile, dag_id: str, run_id: str, task_id: str) -> int:
    """How many times a (not mapped) task ran in a run."""
    return len(attempt_logs(profile, dag_id, run_id, task_id))


def task_log(profile: Profile, dag_id: str, run_id: str, task_id: str, tail: int = 150) -> str:
    folder = _log_folder(profile, dag_id, run_id, task_id)
    attempts = sorted(folder.glob("attempt=*.log"))
    if not attempts:
        return f"(no log under {folder})"
    lines = []
    for raw in attempts[-1].read_text(errors="replace").splitlines():
        try:
            rec = json.loads(raw)
        except ValueError:
            lines.append(raw)
            continue
        lines.append(f"{rec.get('timestamp', '')} {rec.get('level', '')} {rec.get('event', '')}")
        if rec.get("error_detail"):
            lines.append(json.dumps(rec["error_detail"], indent=1)[:4000])
    return f"--- {attempts[-1]} ---\n" + "\n".join(lines[-tail:])


def wait_for_run(
    profile: Profile,
    run_id: str,
    dag_id: str = MASTER_DAG_ID,
    timeout: float = 900,
    poll: float = 2,
    on_poll: Callable[[dict[str, str]], None] | None = None,
) -> str:
    """Wait for a run to finish; on failure or timeout raise with the failed tasks' logs.
    `on_poll` receives the task states at every poll (the CLI's progress line)."""
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        state = run_state(profile, dag_id, run_id)
        if on_poll is not None:
            on_poll(task_states(profile, dag_id, run_id))
        if state in TERMINAL:
            break
        time.sleep(poll)
    if state == "success":
        return state
    states = task_states(profile, dag_id, run_id)
    bad = [t for t, s in states.items() if s not in ("success", "skipped")]
    logs = "\n".join(
        task_log(profile, dag_id, run_id, t)
        for t in bad
        if states[t] in ("failed", "up_for_retry", "running", "upstream_failed")
    )
    why = f"timed out after {timeout:.0f}s" if state not in TERMINAL else f"ended {state}"
    raise PipelineError(
        f"run {run_id} {why}; task states {states}\n{logs}" + failed_checks_text(profile, run_id)
    )


def failed_checks_text(profile: Profile, run_id: str) -> str:
    """The run's failed data-quality checks with what to do, last so a reader sees them."""
    from lakehouse.report.run_summary import STAGES, failed_checks, read_metrics
    from spark_jobs.checks import describe_failed

    try:
        failed = [
            c for stage in STAGES for c in failed_checks(read_metrics(profile, run_id, stage))
        ]
    except Exception as exc:  # the metrics are unreadable: the logs above still tell
        return f"\n(failed checks unreadable: {exc})"
    return f"\nfailed data-quality checks:\n{describe_failed(failed)}" if failed else ""


def drop_files(profile: Profile, source: Path, dataset: str) -> list[str]:
    """Upload every file of source/ (as an upstream system would) to raw/<dataset>/."""
    store = object_store(profile)
    keys = []
    for path in sorted(p for p in source.iterdir() if p.is_file()):
        key = f"{dataset}/{path.name}"
        store.put(profile.zones.raw, key, path.read_bytes())
        keys.append(key)
    return keys


def drop_reference_batch(profile: Profile, data: Path, batch: int, store=None) -> list[str]:
    """Upload one batch of the generated reference dataset (seed_data) into RAW."""
    from seed_data.generate import iter_raw_files

    store = store or object_store(profile)
    keys = []
    for dataset, path in iter_raw_files(data, batch):
        key = f"{dataset}/{path.name}"
        store.put(profile.zones.raw, key, path.read_bytes())
        keys.append(key)
    return keys


def reset_lake(profile: Profile) -> None:
    """Empty every zone (tests and the demo start from a clean slate; never for production)."""
    store = object_store(profile)
    for bucket in profile.bucket_names:
        store.ensure_bucket(bucket)
        for obj in list(store.list(bucket)):
            store.delete(bucket, obj.key)


def reset_source(profile: Profile, schema: str = "shop") -> None:
    """Drop the operational source schema (tests and the demo reload it batch by batch)."""
    import psycopg2

    if profile.source_db is None:
        return
    conn = psycopg2.connect(profile.source_db.dsn())
    with conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


SAMPLE = REPO_ROOT / "seed_data" / "sample"


def prepare_sample_run(profile: Profile, batches: tuple[int, ...] = (1, 2, 3)) -> dict:
    """A clean lake and source database, then the committed reference sample in place: the
    RAW files of the given batches and the operational upserts of the same batches. Returns
    the sample's ground-truth manifest. Waits first for the master's runs to end (one started
    by landings may be going), so nothing writes into the lake it resets."""
    from seed_data.operational import load_batch

    wait_for_dag(profile)
    wait_until_idle(profile)
    reset_lake(profile)
    reset_source(profile)
    for batch in batches:
        drop_reference_batch(profile, SAMPLE, batch)
        if profile.source_db is not None:
            load_batch(profile.source_db.dsn(), SAMPLE / f"batch-{batch:02d}")
    return json.loads((SAMPLE / "manifest.json").read_text())


def summary(profile: Profile, table: str = "daily_event_counts") -> dict:
    """What the lake and the warehouse hold now, per zone and dataset."""
    from lakehouse.config.registry import registry

    store = object_store(profile)
    zones = profile.zones
    datasets = sorted(registry().file_datasets)
    out: dict[str, Any] = {
        "raw": {d: len(list(store.list(zones.raw, f"{d}/"))) for d in datasets},
        "bronze_files": {d: len(list(store.list(zones.bronze, f"{d}/"))) for d in datasets},
        "quarantined_files": {
            d: sum(
                not o.key.endswith(".reason.json") for o in store.list(zones.quarantine, f"{d}/")
            )
            for d in datasets
        },
        "bronze_tables": sorted(registry().source_tables),
    }
    from lakehouse import warehouse

    loader = warehouse.loader(profile)
    rows, events = loader.query(
        f'SELECT count(*), coalesce(sum(event_count), 0) FROM "{loader.schema}"."{table}"'
    )[0]
    out["warehouse"] = {"table": f"{loader.schema}.{table}", "rows": rows, "events": int(events)}
    return out
