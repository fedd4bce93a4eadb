"""Data-aware scheduling on the running native stack, with nobody triggering anything: files
dropped into RAW are picked up by the generated `ingest_<dataset>` DAGs (deferrable sensors
waiting on the real triggerer), land in BRONZE, and their asset events start the master
pipeline, which carries their rows to the warehouse. The figures are reconciled with what the
test dropped: the new user's one current row, their transaction and exactly the dropped events,
nothing else."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import UTC, datetime

from lakehouse import ingest, warehouse
from lakehouse.backends.storage import object_store, sha256
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.platform import pipeline
from lakehouse.report.run_summary import run_key
from lakehouse.warehouse.sql import restricted_schema
from seed_data.operational import load_batch

WAIT_S = 1200  # ingestion (one sensor window at most), the settle, one master run
EVENTS = 7


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _figures(loader, user_id: int) -> dict:
    """Events in the warehouse (all, and the test user's), the user's dimension rows and
    transactions; none before the first load has published the tables."""
    schema = loader.schema
    restricted = restricted_schema(schema)  # the user's email: personal data, read as the loader
    ((published,),) = loader.query(
        "SELECT count(*) FROM information_schema.tables WHERE (table_schema = "
        f"'{schema}' AND table_name IN ('fact_events', 'dim_users', 'fact_transactions')) "
        f"OR (table_schema = '{restricted}' AND table_name = 'user_pii')"
    )
    if published < 4:
        return {"events": 0, "mine": 0, "users": [], "paid": []}
    ((events,),) = loader.query(f'SELECT count(*) FROM "{schema}"."fact_events"')
    ((mine,),) = loader.query(
        f'SELECT count(*) FROM "{schema}"."fact_events" WHERE user_id = {user_id}'
    )
    users = loader.query(
        f'SELECT p.email, d.country, d.is_current FROM "{schema}"."dim_users" d '
        f'JOIN "{restricted}"."user_pii" p ON p.user_key = d.user_key '
        f"AND p.valid_from = d.valid_from WHERE d.user_id = {user_id}"
    )
    paid = loader.query(
        f'SELECT transaction_id, amount, currency FROM "{schema}"."fact_transactions" '
        f"WHERE user_id = {user_id}"
    )
    return {"events": events, "mine": mine, "users": users, "paid": paid}


def test_files_dropped_into_raw_reach_the_warehouse_with_nobody_triggering(profile):
    store = object_store(profile)
    loader = warehouse.loader(profile)
    pipeline.wait_for_dag(profile)
    pipeline.wait_until_idle(profile)  # the earlier modules' runs, and any they set off
    # A clean lake (an earlier module may leave files SILVER rejects) and the operational DB
    # at the sample's first batch: the warehouse the run publishes holds the dropped rows only.
    pipeline.reset_lake(profile)
    pipeline.reset_source(profile)
    load_batch(profile.source_db.dsn(), pipeline.SAMPLE / "batch-01")
    user_id = 9_000_000 + uuid.uuid4().int % 10**6
    before = _figures(loader, user_id)  # whatever an earlier run published, not the user
    assert before["mine"] == 0 and before["users"] == [] and before["paid"] == []
    tag = uuid.uuid4().hex[:8]
    files = {
        "users": (
            f"users/users_landing_{tag}.csv",
            _csv(
                ["user_id", "email", "full_name", "country", "status", "updated_at"],
                [
                    [
                        user_id,
                        f"landing-{tag}@example.com",
                        "Lan Ding",
                        "PL",
                        "active",
                        "2026-11-02T09:00:00Z",
                    ]
                ],
            ),
        ),
        # GOLD needs all three of its SILVER inputs (alone on a fresh stack, this is all there is)
        "transactions": (
            f"transactions/transactions_landing_{tag}.csv",
            _csv(
                ["transaction_id", "user_id", "amount", "currency", "status", "transaction_ts"],
                [[f"landing-{tag}", user_id, "12.34", "PLN", "completed", "2026-11-02T10:30:00Z"]],
            ),
        ),
        "events": (
            f"events/events_landing_{tag}.csv",
            _csv(
                ["event_id", "user_id", "event_type", "event_ts", "device"],
                [
                    [f"landing-{tag}-{i}", user_id, "page_view", f"2026-11-02T10:0{i}:00Z", "web"]
                    for i in range(EVENTS)
                ],
            ),
        ),
    }
    dropped = datetime.now(UTC)
    started = time.monotonic()
    for key, data in files.values():
        store.put(profile.zones.raw, key, data)

    # Nothing is triggered: wait for the warehouse to show the dropped rows.
    deadline = time.monotonic() + WAIT_S
    after = before
    while time.monotonic() < deadline and not (after["mine"] and after["users"] and after["paid"]):
        time.sleep(10)
        after = _figures(loader, user_id)
    latency = time.monotonic() - started
    pipeline.wait_until_idle(profile)  # the run ends after the load (its gate, its summary)
    runs = [
        r
        for r in pipeline.latest_runs(profile, MASTER_DAG_ID, limit=20)
        if r["start_date"] and datetime.fromisoformat(r["start_date"]) >= dropped
    ]
    print({"landed_to_warehouse_s": round(latency, 1), "runs": runs})
    assert after["mine"] == EVENTS, (before, after, runs)

    # Reconciled: exactly the dropped rows arrived (the lake held nothing else), and the
    # user's one current version.
    assert after["events"] == EVENTS
    assert after["users"] == [(f"landing-{tag}@example.com", "PL", True)]
    assert [(t, float(a), c) for t, a, c in after["paid"]] == [(f"landing-{tag}", 12.34, "PLN")]
    # Each file went RAW -> BRONZE through its dataset's ingestion DAG, byte for byte.
    for dataset, (key, data) in files.items():
        log = ingest.read_log(store, profile.zones.bronze, dataset, sha256(data))
        (record,) = [r for r in log if r["source_key"] == key]
        assert record["outcome"] == "bronze"
        assert not store.exists(profile.zones.raw, key)
        assert sha256(store.get(profile.zones.bronze, record["target_key"])) == sha256(data)
        ingestions = pipeline.latest_runs(profile, f"ingest_{dataset}", limit=20)
        assert any(r["state"] == "success" for r in ingestions), (dataset, ingestions)
    # ... and the master runs since the drop were all started by those landings, none by hand
    # or the clock; the one that published them says so in its summary.
    assert runs and all(r["run_type"] == "asset_triggered" for r in runs), runs
    published = []
    for run in runs:
        summary = json.loads(
            store.get(profile.zones.metrics, f"runs/{run_key(run['run_id'])}/summary.json")
        )
        silver = summary["rows"].get("silver", {})
        if silver.get("events", {}).get("rows_read"):
            published.append(summary)
    (summary,) = published  # one run read the burst, the other ones (if any) were skipped
    assert set(summary["trigger"]["landings"]) <= {f"bronze/{d}" for d in files}
    assert summary["trigger"]["settled_s"] >= 20  # the debounce (config/pipelines.yaml)
    assert not summary["failed_tasks"]
