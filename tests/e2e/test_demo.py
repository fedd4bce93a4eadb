"""`make demo` on the embedded profile: no Docker, no installed services; the embedded
PostgreSQL wheel, Spark local mode and the filesystem as object store, driven by Airflow."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lakehouse.config import load_profile
from lakehouse.services import Stack

ROOT = Path(__file__).parents[2]


def test_make_demo_runs_the_whole_pipeline():
    env = {**os.environ, "DEMO_PROFILE": "embedded"}
    proc = subprocess.run(
        ["make", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        assert "WAREHOUSE  analytics.daily_event_counts" in proc.stdout
        line = next(ln for ln in proc.stdout.splitlines() if "WAREHOUSE" in ln)
        # "...: N rows, E events (expected E events)"
        events = line.split(" rows, ")[1].split(" events")[0]
        expected = line.split("(expected ")[1].split(" events")[0]
        assert events == expected and int(events) > 0, line
    finally:
        Stack(load_profile("embedded")).stop()
