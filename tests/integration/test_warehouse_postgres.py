"""The warehouse loader on the real PostgreSQL: staging + COPY + one-transaction swap, the
validation against GOLD, a kill mid-COPY, a concurrent reader, and least privilege.

Each test gets its own schema (bootstrapped by the owner like `analytics`) and a filesystem
lake holding a synthetic gold export of daily_event_counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta

import psycopg2
import pyarrow as pa
import pytest

from lakehouse import warehouse
from lakehouse.backends import backends
from lakehouse.config import FilesystemStore, Profile
from lakehouse.paths import REPO_ROOT
from lakehouse.warehouse import sql as warehouse_sql
from tests.reliability import faults
from tests.runs import query_as

TABLE = "daily_event_counts"


@pytest.fixture
def wh(pg_profile: Profile, run_id: str, tmp_path):
    schema = f"it_{run_id}"
    profile = pg_profile.model_copy(
        update={
            "warehouse": pg_profile.warehouse.model_copy(update={"schema_name": schema}),
            "object_store": FilesystemStore(kind="filesystem", root=tmp_path),
        }
    )
    warehouse.bootstrap(profile)
    yield profile
    conn = psycopg2.connect(profile.warehouse.dsn())
    with conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        cur.execute(f'DROP SCHEMA IF EXISTS "{warehouse_sql.restricted_schema(schema)}" CASCADE')
    conn.close()


def daily(n: int, start: date = date(2026, 1, 1), bump: int = 0) -> pa.Table:
    """n distinct (event_date, event_type) rows."""
    return pa.table(
        {
            "event_date": pa.array(
                [start + timedelta(days=i // 1000) for i in range(n)], pa.date32()
            ),
            "event_type": [f"type_{i % 1000}" for i in range(n)],
            "event_count": pa.array([i % 97 + 1 + bump for i in range(n)], pa.int64()),
            "unique_users": pa.array([i % 13 + 1 for i in range(n)], pa.int64()),
        }
    )


def write_export(profile: Profile, data: pa.Table, table: str = TABLE) -> None:
    folder = profile.object_store.root_path / profile.zones.gold / "_export" / table
    faults.write_export(folder, warehouse_sql.table_defs()[table], data)


def live(profile: Profile, login=None) -> list[tuple]:
    wh_cfg = profile.warehouse
    conn = psycopg2.connect(wh_cfg.dsn(login=login or wh_cfg.loader))
    with conn, conn.cursor() as cur:
        cur.execute(f'SELECT * FROM "{wh_cfg.schema_name}"."{TABLE}" ORDER BY 1, 2')
        rows = cur.fetchall()
    conn.close()
    return rows


def figures(profile: Profile) -> dict:
    backend = warehouse.loader(profile)
    return warehouse.observed_figures(backend, [warehouse_sql.table_defs()[TABLE]], False)[TABLE]


def as_rows(data: pa.Table) -> list[tuple]:
    return sorted(tuple(r.values()) for r in data.to_pylist())


def test_load_replaces_the_table_and_validates(wh):
    first = daily(3)
    write_export(wh, first)
    report = warehouse.load(wh, [TABLE])
    assert report.tables[TABLE]["rows"] == 3
    assert live(wh) == as_rows(first)

    second = daily(5, start=date(2026, 2, 1))
    write_export(wh, second)
    warehouse.load(wh, [TABLE])
    assert live(wh) == as_rows(second)
    result = warehouse.validate(wh, [TABLE])
    assert result["tables"][TABLE]["rows"] == "5"
    # the analyst reads the table the loader just created (default privileges)
    assert live(wh, wh.warehouse.analyst) == as_rows(second)


def test_a_duplicate_key_fails_the_load_and_keeps_the_previous_table(wh):
    write_export(wh, daily(3))
    warehouse.load(wh, [TABLE])
    write_export(wh, pa.concat_tables([daily(3), daily(1)]))  # the first row twice
    with pytest.raises(psycopg2.errors.UniqueViolation):
        warehouse.load(wh, [TABLE])
    assert live(wh) == as_rows(daily(3))


def test_a_staged_table_that_differs_from_gold_is_not_swapped(wh):
    write_export(wh, daily(3))
    warehouse.load(wh, [TABLE])

    class LosesARow(warehouse.PostgresLoader):
        def stage(self, export):
            super().stage(export)
            staging = f'"{self.schema}"."{TABLE}__staging"'
            self.execute(
                [f"DELETE FROM {staging} WHERE ctid IN (SELECT ctid FROM {staging} LIMIT 1)"]
            )

    write_export(wh, daily(4, start=date(2026, 3, 1)))
    with pytest.raises(warehouse.ValidationFailed, match=r"daily_event_counts\.rows: staging 3"):
        warehouse.load(wh, [TABLE], backend=LosesARow(backends(wh).warehouse))
    assert live(wh) == as_rows(daily(3))


def test_validation_fails_when_the_live_table_drifts_from_gold(wh):
    write_export(wh, daily(3))
    warehouse.load(wh, [TABLE])
    conn = psycopg2.connect(wh.warehouse.dsn())  # the owner edits a row behind the loader
    with conn, conn.cursor() as cur:
        cur.execute(
            f'UPDATE "{wh.warehouse.schema_name}"."{TABLE}" SET event_count = event_count + 1 '
            f"WHERE event_type = 'type_0'"
        )
    conn.close()
    with pytest.raises(warehouse.ValidationFailed, match=r"sum:event_count: warehouse 7 != gold 6"):
        warehouse.validate(wh, [TABLE])


def _copy_running(profile: Profile) -> bool:
    conn = psycopg2.connect(profile.warehouse.dsn())
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND query LIKE 'COPY %%'",
            (profile.warehouse.loader.user,),
        )
        running = cur.fetchone()[0] > 0
    conn.close()
    return running


def test_kill_mid_copy_keeps_the_previous_table_and_the_next_load_succeeds(wh):
    write_export(wh, daily(3))
    warehouse.load(wh, [TABLE])
    before = figures(wh)
    big = daily(2_000_000, bump=1)
    write_export(wh, big)
    script = (
        "import sys, json; from lakehouse import warehouse; from lakehouse.config import Profile;"
        "warehouse.load(Profile.model_validate_json(sys.stdin.read()), ['daily_event_counts'])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, cwd=REPO_ROOT, text=True
    )
    proc.stdin.write(wh.model_dump_json(by_alias=True))
    proc.stdin.close()
    deadline = time.monotonic() + 120
    while not _copy_running(wh):
        assert proc.poll() is None, "the load ended before its COPY was seen"
        assert time.monotonic() < deadline, "no COPY seen within 120 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while _copy_running(wh):  # the server notices the dead client and rolls back
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert figures(wh) == before
    assert live(wh) == as_rows(daily(3))
    warehouse.load(wh, [TABLE])
    assert figures(wh)["rows"] == 2_000_000
    warehouse.validate(wh, [TABLE])


def test_a_concurrent_reader_sees_the_old_table_or_the_new_one_never_a_partial_one(wh):
    old, new = daily(1000), daily(400_000, start=date(2025, 1, 1), bump=2)
    write_export(wh, old)
    warehouse.load(wh, [TABLE])
    old_figures = figures(wh)
    write_export(wh, new)
    seen: list[tuple] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    query = warehouse_sql.figures_query(
        [warehouse_sql.table_defs()[TABLE]], wh.warehouse.schema_name
    )

    def reader() -> None:
        conn = psycopg2.connect(wh.warehouse.dsn(login=wh.warehouse.analyst))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute(query)
                    seen.append(cur.fetchone())
        except BaseException as exc:  # reported below: the reader must never fail
            errors.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        warehouse.load(wh, [TABLE])
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    new_figures = figures(wh)
    table = warehouse_sql.table_defs()[TABLE]
    observed = [warehouse.parse_figures(table, text) for _, text in seen]
    assert set(map(str, observed)) == {str(old_figures), str(new_figures)}, set(map(str, observed))
    first_new = next(i for i, f in enumerate(observed) if f == new_figures)
    assert all(f == new_figures for f in observed[first_new:]), "went back to the old table"


def test_the_loader_and_the_analyst_can_do_only_what_they_should(wh):
    write_export(wh, daily(3))
    warehouse.load(wh, [TABLE])
    cfg = wh.warehouse
    schema = cfg.schema_name

    def refused(login, statement: str, database: str | None = None) -> None:
        conn = psycopg2.connect(cfg.dsn(database=database, login=login))
        try:
            with conn, conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute(statement)
        finally:
            conn.close()

    refused(cfg.loader, "CREATE TABLE public.intruder (x int)")
    refused(cfg.loader, "CREATE SCHEMA intruder")
    refused(
        cfg.analyst, f"INSERT INTO \"{schema}\".\"{TABLE}\" VALUES (DATE '2020-01-01', 'x', 1, 1)"
    )
    refused(cfg.analyst, f'CREATE TABLE "{schema}".intruder (x int)')
    refused(cfg.analyst, f'DROP TABLE "{schema}"."{TABLE}"')
    refused(cfg.analyst, f'TRUNCATE "{schema}"."{TABLE}"')
    for login in (cfg.loader, cfg.analyst):  # neither reaches the operational source DB
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            psycopg2.connect(cfg.dsn(database="operational", login=login)).close()
    assert len(live(wh, cfg.analyst)) == 3


def test_personal_data_is_refused_to_the_analyst_and_read_by_the_pii_reader(wh):
    """dim_users (no personal data) and user_pii (email and name, restricted) loaded together:
    the analyst's SELECT email fails on both (no such column; no privilege on the restricted
    schema, also after the bootstrap runs again), the pii reader's succeeds and returns the
    loaded values, and the pii reader reads nothing of the analytics schema."""
    t0 = datetime(2026, 1, 1)
    users = pa.table(
        {
            "user_sk": pa.array([-1, 11, 12], pa.int64()),
            "user_id": pa.array([-1, 1, 2], pa.int64()),
            "user_key": [None, "k" * 64, "j" * 64],
            "country": [None, "DE", "US"],
            "status": [None, "active", "closed"],
            "signup_ts": pa.array([None, t0, t0], pa.timestamp("us")),
            "valid_from": pa.array([datetime(1970, 1, 1), t0, t0], pa.timestamp("us")),
            "valid_to": pa.array([datetime(1970, 1, 1), None, None], pa.timestamp("us")),
            "is_current": [False, True, True],
        }
    )
    pii = pa.table(
        {
            "user_key": ["k" * 64, "j" * 64],
            "user_id": pa.array([1, 2], pa.int64()),
            "email": ["a@example.com", "b@example.com"],
            "full_name": ["Ann A", "Bob B"],
            "valid_from": pa.array([t0, t0], pa.timestamp("us")),
            "valid_to": pa.array([None, None], pa.timestamp("us")),
            "is_current": [True, True],
        }
    )
    write_export(wh, users, "dim_users")
    write_export(wh, pii, "user_pii")
    warehouse.load(wh, ["dim_users", "user_pii"])
    warehouse.validate(wh, ["dim_users", "user_pii"])
    cfg = wh.warehouse
    schema, restricted = cfg.schema_name, warehouse_sql.restricted_schema(cfg.schema_name)

    def run(login, statement: str) -> list[tuple]:
        return query_as(cfg, login, statement)

    for attempt in (1, 2):  # and again after the bootstrap re-runs (it is idempotent)
        with pytest.raises(psycopg2.errors.UndefinedColumn):
            run(cfg.analyst, f'SELECT email FROM "{schema}"."dim_users"')
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(cfg.analyst, f'SELECT email FROM "{restricted}"."user_pii"')
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(cfg.pii_reader, f'SELECT user_key FROM "{schema}"."dim_users"')
        assert run(cfg.analyst, f'SELECT user_key FROM "{schema}"."dim_users" ORDER BY 1') == [
            ("j" * 64,),
            ("k" * 64,),
            (None,),
        ]
        assert run(
            cfg.pii_reader,
            f'SELECT user_key, email, full_name FROM "{restricted}"."user_pii" ORDER BY user_id',
        ) == [("k" * 64, "a@example.com", "Ann A"), ("j" * 64, "b@example.com", "Bob B")]
        if attempt == 1:
            warehouse.bootstrap(wh)


def test_an_unsafe_schema_name_is_rejected_before_any_sql(wh):
    bad = wh.model_copy(
        update={
            "warehouse": wh.warehouse.model_copy(update={"schema_name": 'x"; DROP TABLE y; --'})
        }
    )
    write_export(wh, daily(3))
    with pytest.raises(warehouse_sql.UnsafeIdentifier, match="schema"):
        warehouse.load(bad, [TABLE])


def _swap_tables(profile: Profile, names: list[str], stage: list[str]) -> None:
    """Live tables `names` holding 'old', staging tables of `stage` holding 'new' (as loader)."""
    cfg = profile.warehouse
    conn = psycopg2.connect(cfg.dsn(login=cfg.loader))
    with conn, conn.cursor() as cur:
        for name in names:
            cur.execute(f'CREATE TABLE "{cfg.schema_name}"."{name}" (v text)')
            cur.execute(f'INSERT INTO "{cfg.schema_name}"."{name}" VALUES (\'old\')')
        for name in stage:
            cur.execute(f'CREATE TABLE "{cfg.schema_name}"."{name}__staging" (v text)')
            cur.execute(f'INSERT INTO "{cfg.schema_name}"."{name}__staging" VALUES (\'new\')')
    conn.close()


def _contents(profile: Profile) -> dict[str, str]:
    cfg = profile.warehouse
    conn = psycopg2.connect(cfg.dsn(login=cfg.loader))
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (cfg.schema_name,)
        )
        out = {}
        for (name,) in cur.fetchall():
            cur.execute(f'SELECT string_agg(v, \',\') FROM "{cfg.schema_name}"."{name}"')
            out[name] = cur.fetchone()[0]
    conn.close()
    return out


def _redshift_batch(profile: Profile, names: list[str]) -> None:
    """The statements the Redshift loader sends to swap `names`, run as the Data API runs one
    batch: in one transaction, as the loader."""
    defs = [warehouse_sql.table_defs()[TABLE].model_copy(update={"name": n}) for n in names]
    statements = warehouse_sql.swap(defs, profile.warehouse.schema_name, "redshift")
    assert len(statements) <= warehouse_sql.DATA_API_MAX_STATEMENTS
    cfg = profile.warehouse
    conn = psycopg2.connect(cfg.dsn(login=cfg.loader))
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def test_the_redshift_swap_procedure_swaps_45_tables_all_or_nothing(wh):
    """The PL/pgSQL procedure Redshift's swap CALLs (its text, as sent), run on PostgreSQL:
    45 tables (90 statements before, more than a Data API batch takes) in one batch; then a
    batch whose 30th staging table is missing changes nothing at all."""
    names = [f"t{i:02d}" for i in range(1, 46)]
    _swap_tables(wh, names, names)
    _redshift_batch(wh, names)
    assert _contents(wh) == dict.fromkeys(names, "new")

    _swap_tables(wh, [], [n for n in names if n != "t30"])  # the next load, t30 not staged
    before = _contents(wh)
    assert before["t29__staging"] == "new" and "t30__staging" not in before
    with pytest.raises(psycopg2.errors.UndefinedTable, match="t30__staging"):
        _redshift_batch(wh, names)
    assert _contents(wh) == before  # t01..t29 were swapped inside the batch, then rolled back
