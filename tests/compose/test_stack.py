"""The Docker Compose stack on a real engine, driven as a user drives it: `make up` from
nothing to every service healthy, the master DAG through the containers on the committed sample
(`make run`) with a Spark worker killed in the middle of it, SILVER and the warehouse
reconciled with the sample's manifest, and `make down` / `make up` keeping the lake and the
warehouse (named volumes). One master run: the group costs minutes of CI per run."""

from __future__ import annotations

import json
import subprocess
import time

from lakehouse import pipeline
from lakehouse.airflow_env import MASTER_DAG_ID
from lakehouse.storage import object_store
from tests.compose.conftest import ROOT, compose, compose_env, make, make_command
from tests.reliability.faults import warehouse_tables
from tests.runs import assert_silver_matches, assert_warehouse_matches, stage_metrics

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
    assert {"s3", "minio-init", "warehouse-db", "spark-master", "spark-worker", "airflow-db",
            "airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer"} <= set(services)  # fmt: skip
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


def test_the_master_run_survives_a_killed_spark_worker_and_matches_the_manifest(stack, profile):
    """The sample dropped through the published ports, `make run` (the master DAG through the
    containers), and one of the two Spark workers `docker kill`ed while SILVER runs: Spark
    reschedules the lost tasks on the other worker, the run succeeds, and SILVER and the
    warehouse reconcile with the manifest (nothing lost, nothing doubled)."""
    manifest = pipeline.prepare_sample_run(profile)
    run = subprocess.Popen(make_command("run"), cwd=ROOT, env=compose_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        run_id = _wait_for_task(profile, "bronze_to_silver", time.monotonic() + RUN_TIMEOUT_S)
        time.sleep(15)  # into the stage: executors on both workers are running its jobs
        victim = _services()["spark-worker"][0]["Name"]
        subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
        output, _ = run.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output[-4000:]
    assert pipeline.airflow(profile).run(MASTER_DAG_ID, run_id)["state"] == "success"
    silver = stage_metrics(profile, run_id, "bronze_to_silver")["datasets"]
    for dataset in DATASETS:
        assert_silver_matches(silver[dataset], manifest, dataset)
    assert_warehouse_matches(profile, manifest)
    assert list(object_store(profile).list(profile.zones.raw)) == []
    compose("up", "-d", "--wait", "spark-worker", timeout=600)  # back to two workers
    assert all(c["State"] == "running" for c in _services()["spark-worker"])


def test_make_down_and_up_keep_the_lake_and_the_warehouse(stack, profile):
    store = object_store(profile)
    lake = {z: sorted(o.key for o in store.list(getattr(profile.zones, z)))
            for z in ("bronze", "silver", "gold")}  # fmt: skip
    warehouse = warehouse_tables(profile, profile.warehouse.analyst)
    assert all(lake.values()) and any(warehouse.values())
    make("down", timeout=600)
    make("up", timeout=1200)
    store = object_store(profile)
    assert {z: sorted(o.key for o in store.list(getattr(profile.zones, z)))
            for z in ("bronze", "silver", "gold")} == lake  # fmt: skip
    assert warehouse_tables(profile, profile.warehouse.analyst) == warehouse
