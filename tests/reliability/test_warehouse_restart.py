"""PostgreSQL restarted in the middle of a warehouse load, on a throwaway cluster (never the
shared server): the load fails with ConnectionLost (the step, the server's message, "retry"),
the previous load's tables are intact and readable by the analyst, and the retry (a second
call) succeeds with every table equal to GOLD row for row.

The restart is injected inside the COPY of the largest table, after its first batch went to the
server and once pg_stat_activity shows the COPY running: a fast shutdown (clients cut,
transactions rolled back) and an immediate one (no checkpoint: crash recovery at start)."""

from __future__ import annotations

import signal
import time
from dataclasses import replace

import psycopg2
import pytest
from faults import gold_export_tables, load_gold_again, warehouse_tables

from lakehouse import warehouse
from lakehouse.backends import backends
from lakehouse.warehouse import sql as warehouse_sql

TABLES = sorted(warehouse_sql.table_defs())


class _Batches:
    """An export's dataset whose COPY stream calls `between` after its first batch."""

    def __init__(self, dataset, batch_size: int, between) -> None:
        self.dataset, self.batch_size, self.between = dataset, batch_size, between

    def to_batches(self, columns, batch_size):  # noqa: ARG002 - smaller batches on purpose
        for i, batch in enumerate(
            self.dataset.to_batches(columns=columns, batch_size=self.batch_size)
        ):
            if i == 1:
                self.between()
            yield batch


class RestartMidCopy(warehouse.PostgresLoader):
    """Restarts the server (`sig` to the postmaster, then a fresh start) during the COPY of
    `table`, once its first batch is on the server."""

    def __init__(self, profile, server, table: str, rows: int, sig: int) -> None:
        super().__init__(backends(profile).warehouse)
        self.server, self.table, self.rows, self.sig = server, table, rows, sig
        self.seen_copy: list[str] = []
        self.restart_s = 0.0
        self.restart_error: BaseException | None = None

    def restart(self) -> None:
        # Called from inside psycopg2's COPY (it reads the stream from C): an exception raised
        # here would surface as a SystemError, so it is kept and checked by the test.
        try:
            self._restart()
        except Exception as exc:  # noqa: BLE001
            self.restart_error = exc

    def _restart(self) -> None:
        conn = psycopg2.connect(
            host=str(self.server.data), port=self.server.port, user="postgres", dbname="postgres"
        )
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT query FROM pg_stat_activity WHERE query LIKE 'COPY %%' "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            )
            self.seen_copy = [q for (q,) in cur.fetchall()]
        conn.close()
        started = time.monotonic()
        self.server.restart(self.sig)
        self.restart_s = time.monotonic() - started

    def stage(self, export):
        if export.table.name == self.table:
            batches = _Batches(export.dataset, max(1, self.rows // 4), self.restart)
            export = replace(export, dataset=batches)
        super().stage(export)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT], ids=["fast", "immediate"])
def test_restart_mid_copy_keeps_the_previous_tables_and_the_retry_loads_gold(
    gold_profile, previous_gold, throwaway_pg, sig
):
    wh = gold_profile.warehouse
    warehouse.load(previous_gold)
    before = warehouse_tables(gold_profile, wh.loader)
    assert before == gold_export_tables(previous_gold)

    rows = {n: warehouse.read_export(gold_profile, n).num_rows for n in TABLES}
    largest = max(rows, key=rows.get)
    backend = RestartMidCopy(gold_profile, throwaway_pg, largest, rows[largest], sig)
    started = time.monotonic()
    clear = (
        f"staging {largest}: lost the connection .* Nothing was swapped: the live tables "
        "are still the previous load's; retry the load"
    )
    with pytest.raises(warehouse.ConnectionLost, match=clear) as failure:
        warehouse.load(gold_profile, backend=backend)
    failed_s = time.monotonic() - started
    assert backend.restart_error is None, f"the restart failed: {backend.restart_error!r}"
    assert backend.seen_copy, "the restart was not injected while a COPY ran"
    assert largest in backend.seen_copy[0]

    # The previous load, whole, for the analyst; no staging table took its place.
    assert warehouse_tables(gold_profile, wh.analyst) == before
    with pytest.raises(warehouse.ValidationFailed):
        warehouse.validate(gold_profile)

    retry_s = load_gold_again(gold_profile)
    print(
        {
            "signal": signal.Signals(sig).name,
            "table": largest,
            "rows": rows[largest],
            "error": str(failure.value),
            "failed_load_s": round(failed_s, 2),
            "restart_s": round(backend.restart_s, 2),
            "retry_s": round(retry_s, 2),
            "tables": len(TABLES),
            "rows_total": sum(rows.values()),
        }
    )
