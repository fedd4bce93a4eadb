"""e2e fixtures: the running native stack of the local profile (started by `make services-up`
/ .ci/run); a service that is down fails the test with the command to start it.

`make demo` runs on a stack of its own (the embedded profile: other ports, its own PostgreSQL,
Spark in local mode, files as the object store), so it is started in the background when the
group starts and its test, moved to the end, reads its outcome: the demo's run and the local
stack's runs overlap instead of queueing (docs/testing.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lakehouse.config import load_profile
from lakehouse.paths import stack_dir
from lakehouse.platform.services import Stack
from tests.ui import chromium

ROOT = Path(__file__).parents[2]
DEMO_MODULE = "test_demo.py"
DEMO_TIMEOUT_S = 2400
RUN_TIMES: list[dict] = []  # filled after the group by `run_times`


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    demo = [i for i in items if Path(str(i.fspath)).name == DEMO_MODULE]
    items[:] = [i for i in items if i not in demo] + demo


class Demo:
    """`make demo` in a process group of its own, its output in .stack/embedded/demo.log."""

    def __init__(self) -> None:
        from tests.reliability.faults import free_port

        self.log = stack_dir() / "embedded" / "demo.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # Its alerts go to a port nobody listens on: the local stack's tests run an SMTP sink
        # on the shared default port and must see only their own runs' alerts.
        env = {**os.environ, "DEMO_PROFILE": "embedded", "LAKEHOUSE_SMTP_PORT": str(free_port())}
        self.started = time.monotonic()
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                ["make", "demo"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # The embedded services stay up after `make demo` (for the user to look around): stop
        # them as soon as it ends, so they do not slow the local stack's tests.
        self.stopped = threading.Thread(target=self._stop_when_done, daemon=True)
        self.stopped.start()

    def _stop_when_done(self) -> None:
        self.proc.wait()
        Stack(load_profile("embedded")).stop()

    def result(self) -> tuple[int, str]:
        """Wait for the demo (within DEMO_TIMEOUT_S of its start): exit code and output."""
        left = DEMO_TIMEOUT_S - (time.monotonic() - self.started)
        try:
            code = self.proc.wait(timeout=max(left, 1))
        except subprocess.TimeoutExpired:
            self.stop()
            code = self.proc.wait()
        self.stopped.join(timeout=120)
        return code, self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        Stack(load_profile("embedded")).stop()


@pytest.fixture(scope="session", autouse=True)
def demo(request):
    """`make demo`, started with the group when the group includes its test."""
    if not any(Path(str(i.fspath)).name == DEMO_MODULE for i in request.session.items):
        yield None
        return
    running = Demo()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def profile():
    prof = load_profile("local")
    status = Stack(prof).status()
    down = {n: s for n, s in status.items() if not s.startswith("healthy")}
    if down:
        pytest.fail(f"local stack not running: {down}; start it with `make services-up`")
    return prof


@pytest.fixture(scope="module")
def browser():
    with chromium() as session:
        yield session


@pytest.fixture(scope="session", autouse=True)
def run_times():
    """After the group: the wall time of every master run the group started on the local
    stack and of each of its tasks, printed and kept in .stack/local/e2e-run-times.json (the
    profile in docs/testing.md comes from it)."""
    from datetime import UTC, datetime

    started = datetime.now(UTC)
    yield
    from lakehouse.config.pipelines import MASTER_DAG_ID
    from lakehouse.platform import pipeline

    profile = load_profile("local")
    try:
        runs = pipeline.latest_runs(profile, MASTER_DAG_ID, limit=20)
    except Exception as exc:  # the stack is gone: the tests have said why
        print(f"run times not read: {exc}")
        return
    table = []
    for run in reversed(runs):
        if not run["start_date"] or _when(run["start_date"]) < started:
            continue
        tasks: dict[str, float] = {}
        for ti in pipeline.task_instances(profile, MASTER_DAG_ID, run["run_id"]):
            if ti["start_date"] and ti["end_date"]:
                took = (_when(ti["end_date"]) - _when(ti["start_date"])).total_seconds()
                tasks[ti["task_id"]] = round(max(took, tasks.get(ti["task_id"], 0)), 1)
        end = run["end_date"]
        wall = (_when(end) - _when(run["start_date"])).total_seconds() if end else None
        table.append(
            {
                "run_id": run["run_id"],
                "state": run["state"],
                "wall_s": wall and round(wall, 1),
                "tasks_s": tasks,
            }
        )
    path = stack_dir() / profile.name / "e2e-run-times.json"
    path.write_text(json.dumps(table, indent=2))
    RUN_TIMES.extend(table)


def pytest_terminal_summary(terminalreporter) -> None:
    if RUN_TIMES:
        terminalreporter.section("master runs of this group (.stack/local/e2e-run-times.json)")
        for row in RUN_TIMES:
            terminalreporter.line(
                f"{row['run_id']} {row['state']} {row['wall_s']}s {row['tasks_s']}"
            )


def _when(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)
