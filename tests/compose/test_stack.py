"""The Docker Compose stack on a real engine, driven as a user drives it: `make up` from
nothing to every service healthy, the master DAG through the containers on the committed sample
(`make run`) with a Spark worker crashing during SILVER and the scheduler during GOLD, SILVER and
the warehouse reconciled with the sample's manifest, `make report`, the Airflow UI in Chromium
through the published port, and `make down` / `make up` keeping the lake and the warehouse
(named volumes). One master run: the group costs minutes of CI per run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lakehouse import report
from lakehouse.backends.storage import object_store
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.platform import pipeline
from tests.compose.conftest import ROOT, compose, compose_env, make, make_command
from tests.reliability.faults import warehouse_tables
from tests.runs import (
    assert_personal_data_protected,
    assert_retried_after_kill,
    assert_silver_matches,
    assert_warehouse_matches,
    stage_metrics,
)
from tests.ui import check_finished_run, chromium

RUN_TIMEOUT_S = 1500
DATASETS = ("events", "transactions", "users", "shipment_tracking")


def _services() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in compose("ps", "--all", "--format", "json").splitlines():
        row = json.loads(line)
        out.setdefault(row["Service"], []).append(row)
    return out


def test_make_up_brings_every_service_healthy(stack):
    services = _services()
    assert {
        "s3",
        "minio-init",
        "warehouse-db",
        "spark-master",
        "spark-worker",
        "airflow-db",
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "mail",
    } <= set(services)
    assert len(services["spark-worker"]) == 2
    for name, containers in services.items():
        for c in containers:
            if name.endswith("-init"):
                assert (c["State"], c["ExitCode"]) == ("exited", 0), c
            else:
                assert (c["State"], c["Health"]) == ("running", "healthy"), c


def _wait_for_task(profile, task_id: str, deadline: float) -> str:
    """The id of the master run once its `task_id` is running (the only run of this stack)."""
    api = pipeline.airflow(profile)
    while True:
        runs = api.runs(MASTER_DAG_ID, 1)
        if runs:
            run_id = runs[0]["dag_run_id"]
            if pipeline.task_states(profile, MASTER_DAG_ID, run_id).get(task_id) == "running":
                return run_id
        assert time.monotonic() < deadline, f"{task_id} never started"
        time.sleep(2)


def _inspect(container: str, template: str) -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", template, container], check=True, capture_output=True, text=True
    ).stdout.strip()


def _crash(service: str, index: int = 0) -> tuple[str, int]:
    """A container of `service` dies as a crash or the OOM killer would kill it: SIGKILL to its
    init process from the host, so the engine sees it exit on its own and applies the restart
    policy (`docker kill` counts as a stop by hand, after which the engine leaves a container
    down). Returns the container's name and its restart count before the crash."""
    name = _services()[service][index]["Name"]
    pid, restarts, container_id = _inspect(name, "{{.State.Pid}} {{.RestartCount}} {{.Id}}").split()
    cgroup = Path(f"/proc/{pid}/cgroup")
    if not (cgroup.exists() and container_id in cgroup.read_text()):
        pytest.fail(
            f"{name}'s process {pid} is not visible from here (an engine in a VM, as Docker "
            "Desktop runs it): the crashes need a Linux engine on this host"
        )
    os.kill(int(pid), signal.SIGKILL)
    return name, int(restarts)


def _wait_restarted(name: str, restarts: int, timeout: float = 300) -> None:
    """The crashed container back by its restart policy alone, and healthy."""
    deadline = time.monotonic() + timeout
    while True:
        count, state, health = _inspect(
            name, "{{.RestartCount}} {{.State.Status}} {{.State.Health.Status}}"
        ).split()
        if int(count) > restarts and (state, health) == ("running", "healthy"):
            return
        assert time.monotonic() < deadline, f"{name} not back: {count} restarts, {state}, {health}"
        time.sleep(2)


@pytest.fixture(scope="module")
def finished_run(stack, profile):
    """The sample dropped through the published ports and `make run` (the master DAG through the
    containers, followed from the api-server container); one of the two Spark workers crashes
    while SILVER runs, the scheduler while GOLD runs. Returns the manifest, the run id, the
    output of `make run` and its exit status."""
    manifest = pipeline.prepare_sample_run(profile)
    run = subprocess.Popen(
        make_command("run"),
        cwd=ROOT,
        env=compose_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        run_id = _wait_for_task(profile, "bronze_to_silver", deadline)
        time.sleep(15)  # into the stage: executors on both workers are running its jobs
        worker = _crash("spark-worker")
        assert _wait_for_task(profile, "silver_to_gold", deadline) == run_id
        time.sleep(15)  # the GOLD job's driver runs in the scheduler container: it dies too
        scheduler = _crash("airflow-scheduler")
        output, _ = run.communicate(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if run.poll() is None:
            run.kill()
    return {
        "manifest": manifest,
        "run_id": run_id,
        "output": output,
        "exit": run.returncode,
        "crashed": {"spark-worker": worker, "airflow-scheduler": scheduler},
    }


def test_the_master_run_survives_a_crashed_spark_worker_and_scheduler(profile, finished_run):
    """Spark reschedules the lost worker's tasks on the other one; the restarted scheduler
    finds GOLD's task orphaned and runs it again, once the first attempt has ended; both
    containers come back by their restart policy; `make run`, following from another container,
    sees the run through."""
    assert finished_run["exit"] == 0, finished_run["output"][-4000:]
    run_id = finished_run["run_id"]
    assert pipeline.airflow(profile).run(MASTER_DAG_ID, run_id)["state"] == "success"
    assert_retried_after_kill(profile, run_id, "silver_to_gold")
    for name, restarts in finished_run["crashed"].values():
        _wait_restarted(name, restarts)


def test_nothing_was_lost_or_doubled(profile, finished_run):
    """SILVER's figures and the warehouse reconcile with the manifest, personal data only for
    the pii reader; RAW is empty."""
    manifest, run_id = finished_run["manifest"], finished_run["run_id"]
    silver = stage_metrics(profile, run_id, "bronze_to_silver")["datasets"]
    for dataset in DATASETS:
        assert_silver_matches(silver[dataset], manifest, dataset)
    assert_warehouse_matches(profile, manifest)
    assert_personal_data_protected(profile, manifest)
    assert list(object_store(profile).list(profile.zones.raw)) == []


def test_make_report_fetches_the_runs_report(profile, finished_run):
    """`make report` writes the run's HTML report from the container to the host: the bytes the
    run stored in the metrics zone (read here through the published S3 port)."""
    run_id = finished_run["run_id"]
    proc = make("report", f"RUN={run_id}")
    path = ROOT / proc.stdout.strip().splitlines()[-1]
    assert path == ROOT / ".stack" / "compose" / "reports" / "latest.html"
    body = path.read_bytes()
    assert body == report.fetch(profile, run_id)[1]
    assert body.decode().startswith("<!doctype html>") and run_id in body.decode()


def test_the_airflow_ui_shows_the_run_through_the_published_port(profile, finished_run):
    """Chromium on the host logs in to the api-server container through its published port,
    sees the run and every task succeeded, and opens the run report from its extra link."""
    with chromium() as browser:
        check_finished_run(
            browser, profile, finished_run["run_id"], ROOT / ".stack" / "compose" / "screenshots"
        )


def test_an_alert_reaches_the_stacks_mail_sink(stack):
    """`make alerts-test`: a test alert from the scheduler container (where the failure alerts
    are sent from) through Airflow's SMTP connection, the one the DAGs' notifiers use, lands in
    the `mail` service's Maildir; `make alerts` lists it with its recipients."""
    from lakehouse.config.pipelines import load_pipelines
    from lakehouse.orchestration.alerts import TEST_SUBJECT

    subject = TEST_SUBJECT.format(profile="compose")
    before = make("alerts").stdout.count(subject)
    sent = make("alerts-test").stdout
    assert f"sent: {subject}" in sent
    listed = make("alerts").stdout
    assert listed.count(subject) == before + 1, listed
    (line,) = [x for x in listed.splitlines() if subject in x][-1:]
    assert all(to in line for to in load_pipelines().alerts.email_to), line


def test_make_down_and_up_keep_the_lake_and_the_warehouse(stack, profile):
    store = object_store(profile)
    lake = {
        z: sorted(o.key for o in store.list(getattr(profile.zones, z)))
        for z in ("bronze", "silver", "gold")
    }
    warehouse = warehouse_tables(profile, profile.warehouse.analyst)
    assert all(lake.values()) and any(warehouse.values())
    make("down", timeout=600)
    make("up", timeout=1200)
    store = object_store(profile)
    assert {
        z: sorted(o.key for o in store.list(getattr(profile.zones, z)))
        for z in ("bronze", "silver", "gold")
    } == lake
    assert warehouse_tables(profile, profile.warehouse.analyst) == warehouse
