"""`make demo` on the embedded profile: no Docker, no installed services; the embedded
PostgreSQL wheel, Spark local mode and the filesystem as object store, driven by Airflow.

The demo is started with the e2e group (tests/e2e/conftest.py) and runs beside the local
stack's tests; this test, the group's last, waits for it and reads what it printed."""

from __future__ import annotations

import re

from lakehouse.warehouse.sql import table_defs


def test_make_demo_runs_the_whole_pipeline(demo):
    code, output = demo.result()
    assert code == 0, output[-8000:]
    # What a newcomer reads is the pipeline's output: no library warnings, no escape codes.
    assert "Warning" not in output and "\x1b[" not in output, output[:4000]
    assert "WAREHOUSE  analytics.daily_event_counts" in output
    line = next(ln for ln in output.splitlines() if ln.startswith("  WAREHOUSE  "))
    # "...: N rows, E events (expected E events)"
    events = line.split(" rows, ")[1].split(" events")[0]
    expected = line.split("(expected ")[1].split(" events")[0]
    assert events == expected and int(events) > 0, line
    # Every GOLD table of the warehouse definitions, built and loaded whole.
    lines = re.findall(r"^ {4}(\w+) +(\d+) -> (\d+|not loaded)$", output, re.M)
    shown = {table: (gold, loaded) for table, gold, loaded in lines}
    assert set(shown) == set(table_defs()), sorted(shown)
    for table, (gold, loaded) in shown.items():
        assert int(gold) > 0 and loaded == gold, (table, gold, loaded)
