"""Per master run: rows per layer (from the jobs' metrics), stage durations and every task's
state, written to the metrics zone as runs/<run key>/summary.json for the run report."""

from __future__ import annotations

import json
import logging

from lakehouse.backends.storage import object_store
from lakehouse.config import Profile
from lakehouse.config.pipelines import SPARK_JOBS

log = logging.getLogger(__name__)
STAGES = SPARK_JOBS  # each Spark job writes its stage metrics
SILVER_FIELDS = (
    "files",
    "rows_read",
    "rows_inserted",
    "rows_quarantined",
    "scd2_new_versions",
    "quarantine_samples",
    "quarantined_whole",
    "worst_files",
)
ALERTS_DIR = "alerts"


def run_key(run_id: str) -> str:
    """The object-store-safe form of a run id (lakehouse.orchestration.tasks.RUN_KEY in Jinja)."""
    return run_id.replace(":", "-").replace("+", "_")


def alert_key(run_id: str, task_id: str, map_index: int | None, try_number: int) -> str:
    """Where a failed try's alert record lives (lakehouse/orchestration/alert_record.py)."""
    mapped = f".{map_index}" if map_index is not None and map_index >= 0 else ""
    return f"runs/{run_key(run_id)}/{ALERTS_DIR}/{task_id}{mapped}.try-{try_number}.json"


def read_alerts(profile: Profile, run_id: str) -> list[dict]:
    """The alert records of a run, oldest first (none when nothing failed or no alert channel
    is configured)."""
    store = object_store(profile)
    prefix = f"runs/{run_key(run_id)}/{ALERTS_DIR}/"
    records = [
        json.loads(store.get(profile.zones.metrics, obj.key))
        for obj in store.list(profile.zones.metrics, prefix)
        if obj.key.endswith(".json")
    ]
    return sorted(records, key=lambda r: (r.get("at") or 0, r["task_id"]))


def read_metrics(profile: Profile, run_id: str, stage: str) -> dict | None:
    """The JSON document a job wrote with spark_jobs.runtime.write_metrics, if any."""
    store = object_store(profile)
    prefix = f"runs/{run_key(run_id)}/{stage}/"
    for obj in sorted(store.list(profile.zones.metrics, prefix), key=lambda o: o.key):
        name = obj.key.rsplit("/", 1)[-1]
        if name.startswith("part-"):
            text = store.get(profile.zones.metrics, obj.key).decode().strip()
            if text:
                return json.loads(text.splitlines()[0])
    return None


def all_checks(metrics: dict | None) -> list[dict]:
    """Every data-quality check a job's metrics record, with its dataset when per dataset."""
    if not metrics:
        return []
    out = list(metrics.get("dq", []))
    for name, dataset in (metrics.get("datasets") or {}).items():
        out += [c | {"dataset": name} for c in dataset.get("dq", [])]
    return out


def failed_checks(metrics: dict | None) -> list[dict]:
    """The data-quality checks a job's metrics record as failed."""
    return [c for c in all_checks(metrics) if not c.get("passed")]


def timeline(metrics: dict, ingestion: list[dict], warehouse: dict) -> list[dict]:
    """Every stage that timed itself (start in epoch seconds, duration), in start order: the
    work inside the tasks; the gaps between them are scheduling and Spark start-up."""
    spans = [(stage, m) for stage, m in metrics.items() if m]
    spans += [(f"raw_to_bronze[{i['dataset']}]", i) for i in ingestion]
    if warehouse:
        spans.append(("load_warehouse", warehouse))
    return sorted(
        (
            {"stage": name, "started_at": s["started_at"], "duration_s": s["duration_s"]}
            for name, s in spans
            if s.get("started_at") and s.get("duration_s") is not None
        ),
        key=lambda span: span["started_at"],
    )


def collect(
    profile: Profile,
    run_id: str,
    states: dict,
    ingestion: list[dict] | None = None,
    warehouse: dict | None = None,
    run_started_at: float | None = None,
    trigger: dict | None = None,
) -> dict:
    """The run's summary from the jobs' metrics plus what the Python tasks returned (the
    ingestion summaries per dataset, the warehouse load report, what started the run and how
    its first task decided), stored and logged."""
    ingestion = [i for i in ingestion or [] if i]
    metrics = {stage: read_metrics(profile, run_id, stage) for stage in STAGES}
    rows: dict = {}
    if metrics["db_to_bronze"]:
        rows["bronze_tables"] = {
            t["table"]: t.get("rows_inserted") for t in metrics["db_to_bronze"]["tables"]
        }
    if metrics["bronze_to_silver"]:
        rows["silver"] = {
            name: {k: d.get(k) for k in SILVER_FIELDS if k in d}
            for name, d in metrics["bronze_to_silver"]["datasets"].items()
        }
    if (metrics["silver_to_gold"] or {}).get("tables"):  # absent when GOLD stopped at its inputs
        rows["gold"] = metrics["silver_to_gold"]["tables"]
    checks = {stage: all_checks(m) for stage, m in metrics.items()}
    failed = {stage: [c for c in cs if not c.get("passed")] for stage, cs in checks.items()}
    summary = {
        "run_id": run_id,
        "profile": profile.name,
        "task_states": states,
        "failed_tasks": sorted(t for t, s in states.items() if s in ("failed", "upstream_failed")),
        "alerts": read_alerts(profile, run_id),
        "stage_seconds": {s: m.get("duration_s") for s, m in metrics.items() if m},
        "rows": rows,
        "failed_checks": {stage: checks for stage, checks in failed.items() if checks},
        "checks": {stage: cs for stage, cs in checks.items() if cs},
        "ingestion": ingestion,
        "warehouse": warehouse or {},
        "run_started_at": run_started_at,
        "trigger": trigger or {},
        "timeline": timeline(metrics, ingestion, warehouse or {}),
    }
    key = f"runs/{run_key(run_id)}/summary.json"
    object_store(profile).put(profile.zones.metrics, key, json.dumps(summary, indent=1).encode())
    log.info("run summary %s: %s", key, json.dumps(summary))
    return summary
