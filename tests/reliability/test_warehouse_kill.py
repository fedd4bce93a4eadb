"""The warehouse loader's process killed (SIGKILL) after every table is staged and validated,
on a throwaway PostgreSQL cluster: the live tables stay the previous load's, row for row; the
staged tables are kept; the next load publishes GOLD, row for row.

The kill is placed with a lock, not a timer: the test holds ACCESS SHARE on one live table, so
the swap transaction blocks on that table's DROP; once pg_stat_activity shows the loader's
session waiting there, the loader is killed and the lock released. Locking the first table in
swap order kills the loader before any swap statement took effect; locking the last one kills
it with every other table already dropped and renamed inside the open transaction, which
PostgreSQL must then roll back whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg2
import pytest
from faults import gold_export_tables, load_gold_again, warehouse_tables

from lakehouse import warehouse
from lakehouse.warehouse import sql as warehouse_sql

TABLES = sorted(warehouse_sql.table_defs())
SWAP_ORDER = TABLES  # warehouse.load swaps the exports in table-name order

LOAD = """
import sys
from lakehouse import warehouse
from lakehouse.config import Profile
warehouse.load(Profile.model_validate_json(open(sys.argv[1]).read()))
"""


def _superuser(server):
    """The server's superuser on the warehouse database, through the server's socket."""
    db = server.profile.warehouse.database
    conn = psycopg2.connect(host=str(server.data), port=server.port, user="postgres", dbname=db)
    conn.autocommit = True
    return conn


def _blocked_swap(server, user: str, timeout: float = 120) -> tuple[int, str, int]:
    """(backend pid, statement, exclusive locks held) of `user`'s session waiting on a lock."""
    deadline = time.monotonic() + timeout
    conn = _superuser(server)
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(
                    "SELECT a.pid, a.query, (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid "
                    "AND l.granted AND l.mode = 'AccessExclusiveLock' AND l.locktype = 'relation')"
                    " FROM pg_stat_activity a WHERE a.usename = %s AND a.wait_event_type = 'Lock'",
                    (user,),
                )
                row = cur.fetchone()
                if row:
                    return row
                time.sleep(0.05)
    finally:
        conn.close()
    raise AssertionError(f"the loader's swap never waited on the test's lock in {timeout} s")


def _gone(server, pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    conn = _superuser(server)
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone() is None:
                    return
                time.sleep(0.05)
    finally:
        conn.close()
    raise AssertionError(f"the killed loader's session (pid {pid}) is still open after {timeout} s")


@pytest.mark.parametrize("locked", [0, -1], ids=["before-the-swap", "mid-swap"])
def test_a_loader_killed_at_the_swap_leaves_the_previous_tables_and_the_rerun_loads_gold(
    gold_profile, previous_gold, throwaway_pg, tmp_path, locked
):
    wh = gold_profile.warehouse
    schema = wh.schema_name
    warehouse.load(previous_gold)
    before = warehouse_tables(gold_profile, wh.analyst)
    assert before == gold_export_tables(previous_gold)
    gold = gold_export_tables(gold_profile)
    assert gold != before

    table = SWAP_ORDER[locked]
    where = warehouse_sql.schema_of(warehouse_sql.table_defs()[table], schema)
    lock = _superuser(throwaway_pg)
    lock.autocommit = False
    with lock.cursor() as cur:
        cur.execute(f'LOCK TABLE "{where}"."{table}" IN ACCESS SHARE MODE')
    config = tmp_path / "profile.json"
    config.write_text(gold_profile.model_dump_json(by_alias=True))
    log = tmp_path / "loader.log"
    with open(log, "w") as out:
        loader = subprocess.Popen(
            [sys.executable, "-c", LOAD, str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        pid, statement, exclusive = _blocked_swap(throwaway_pg, wh.loader.user)
        os.killpg(loader.pid, signal.SIGKILL)
        assert loader.wait(timeout=30) == -signal.SIGKILL
    finally:
        if loader.poll() is None:
            os.killpg(loader.pid, signal.SIGKILL)
        lock.rollback()
        lock.close()
    _gone(throwaway_pg, pid)

    assert statement == f'DROP TABLE IF EXISTS "{where}"."{table}"', log.read_text()
    # The previous load, whole, for the analyst; the staged GOLD kept for the next load.
    assert warehouse_tables(gold_profile, wh.analyst) == before
    conn = psycopg2.connect(wh.dsn(login=wh.loader))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema IN (%s, %s)",
                (schema, warehouse_sql.restricted_schema(schema)),
            )
            names = {n for (n,) in cur.fetchall()}
    finally:
        conn.close()
    assert names == set(TABLES) | {warehouse_sql.staging_name(n) for n in TABLES}
    # Mid-swap, the transaction held every table it had dropped or renamed before this one
    # (each with its indexes); before the swap, none.
    if locked == -1:
        assert exclusive >= 2 * (len(TABLES) - 1), exclusive
    else:
        assert exclusive == 0, exclusive
    with pytest.raises(warehouse.ValidationFailed):
        warehouse.validate(gold_profile)

    rerun_s = load_gold_again(gold_profile)
    print(
        {
            "locked": table,
            "blocked_statement": statement,
            "exclusive_locks_at_kill": exclusive,
            "rerun_s": round(rerun_s, 2),
            "rows": sum(len(rows) for rows in gold.values()),
        }
    )
