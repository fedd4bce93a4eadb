"""What a finished master run left behind, read the same way by the native e2e tests
(tests/e2e) and the Compose ones (tests/compose), and checked against the sample's
ground-truth manifest."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg2

from lakehouse.backends.storage import object_store
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.platform import pipeline
from seed_data.gold_figures import gold_figures
from seed_data.truth import BATCHWISE


def stage_metrics(profile, run_id: str, stage: str) -> dict:
    """The metrics document a Spark stage of `run_id` wrote (one part file)."""
    store = object_store(profile)
    key = run_id.replace(":", "-").replace("+", "_")
    parts = [
        o.key
        for o in store.list(profile.zones.metrics, f"runs/{key}/{stage}/")
        if o.key.rsplit("/", 1)[1].startswith("part-")
    ]
    assert len(parts) == 1, parts
    return json.loads(store.get(profile.zones.metrics, parts[0]))


def assert_silver_matches(got: dict, manifest: dict, dataset: str) -> None:
    """One dataset's bronze_to_silver metrics against the manifest's figures."""
    expected = manifest["datasets"][dataset]
    assert got["rows_read"] == expected["rows_in"]
    assert got["rows_quarantined"] == expected["quarantined_rows"]
    assert got["duplicates_dropped"] == expected["duplicates_dropped"]
    assert got["silver_rows_total"] == (
        expected["scd2"]["users"] if dataset == "users" else expected["silver_rows"]
    )
    assert all(check["passed"] for check in got["dq"])


def assert_warehouse_matches(profile, manifest: dict) -> None:
    """The warehouse's marts, read as the analyst, against the generator's manifest, figure by
    figure (seed_data.gold_figures: events per day and type, active users per day, money per
    day and currency, orders per day, transactions per status, the buyers' lifetime values,
    user activity, the countries seen, sales and customers in USD, products, shipments per
    status and carrier, stock); the events counted equal SILVER's rows. The runs load every
    operational batch before their first read, so the inventory's change history (BATCHWISE)
    is checked where the source is read batch by batch (the integration group)."""
    wh = profile.warehouse

    with psycopg2.connect(wh.dsn(login=wh.analyst)) as conn, conn.cursor() as cur:

        def query(sql: str) -> list[tuple]:
            cur.execute(sql)
            return cur.fetchall()

        figures = gold_figures(query, wh.schema_name)
    conn.close()
    per_day = figures["daily_event_counts"].values()
    events = sum(t["event_count"] for types in per_day for t in types.values())
    assert events == manifest["datasets"]["events"]["silver_rows"]
    for name, expected in manifest["gold"].items():
        if name not in BATCHWISE:
            assert figures[name] == expected, name


def query_as(wh, login, sql: str) -> list[tuple]:
    """The rows of `sql` run in the warehouse `wh` (a PostgreSQL profile section) as `login`."""
    conn = psycopg2.connect(wh.dsn(login=login))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def assert_personal_data_protected(profile, manifest: dict) -> None:
    """No clear personal data for the analyst: `SELECT email` on dim_users fails (no such
    column) and on the restricted user_pii too (no privilege); the pii reader reads user_pii,
    which holds every SCD2 version the manifest counts per user, an email on each, and user_key
    equal to HMAC-SHA256 of the user id under the profile's key (computed here with the standard
    library), the key dim_users carries for the same versions."""
    import hashlib
    import hmac
    from collections import Counter

    import pytest

    from lakehouse.warehouse.sql import restricted_schema

    wh = profile.warehouse
    schema, restricted = wh.schema_name, restricted_schema(wh.schema_name)

    def read(login, sql: str) -> list[tuple]:
        return query_as(wh, login, sql)

    with pytest.raises(psycopg2.errors.UndefinedColumn):
        read(wh.analyst, f'SELECT email FROM "{schema}"."dim_users"')
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        read(wh.analyst, f'SELECT email FROM "{restricted}"."user_pii"')
    pii = read(
        wh.pii_reader,
        f'SELECT user_id, valid_from, user_key, email FROM "{restricted}"."user_pii"',
    )
    expected = manifest["datasets"]["users"]["scd2"]["versions_per_user"]
    assert Counter(str(user_id) for user_id, *_ in pii) == Counter(expected)
    assert all(email and "@" in email for *_, email in pii)
    key = str(profile.pseudonymisation.key).encode()
    for user_id, _, user_key, _ in pii:
        assert user_key == hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()
    dim = read(
        wh.analyst,
        f'SELECT user_id, valid_from, user_key FROM "{schema}"."dim_users" WHERE user_id >= 0',
    )
    assert sorted(dim) == sorted(row[:3] for row in pii)


def assert_retried_after_kill(profile, run_id: str, task_id: str) -> list[dict]:
    """The task a kill hit ran again and succeeded, its attempts one after another (never two
    at once); returns the attempts."""
    tries = pipeline.airflow(profile).tries(MASTER_DAG_ID, run_id, task_id)
    assert len(tries) >= 2 and tries[-1]["state"] == "success", (task_id, tries)
    spans = sorted(
        (datetime.fromisoformat(t["start_date"]), datetime.fromisoformat(t["end_date"]))
        for t in tries
    )
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), (task_id, spans)
    return tries
