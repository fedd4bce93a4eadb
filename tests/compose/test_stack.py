"""The Docker Compose stack on a real engine, driven as a user drives it: `make up` from
nothing to every service healthy, the master DAG through the containers on the committed sample
(`make run`), the warehouse reconciled with the sample's manifest, a Spark worker killed in the
middle of a run with nothing lost or doubled, and `make down` / `make up` keeping the lake and
the warehouse (named volumes)."""

from __future__ import annotations

import json
import subprocess
import time

from lakehouse import pipeline
from lakehouse.airflow_env import MASTER_DAG_ID
from lakehouse.storage import object_store
from tests.compose.conftest import compose, make
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


def _latest_run(profile) -> str:
    return pipeline.airflow(profile).runs(MASTER_DAG_ID, 1)[0]["dag_run_id"]


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


def test_the_master_run_through_the_containers_matches_the_manifest(stack, profile):
    manifest = pipeline.prepare_sample_run(profile)  # through the published ports
    make("run", timeout=RUN_TIMEOUT_S)
    run_id = _latest_run(profile)
    assert pipeline.airflow(profile).run(MASTER_DAG_ID, run_id)["state"] == "success"
    silver = stage_metrics(profile, run_id, "bronze_to_silver")["datasets"]
    for dataset in DATASETS:
        assert_silver_matches(silver[dataset], manifest, dataset)
    assert_warehouse_matches(profile, manifest)
    assert list(object_store(profile).list(profile.zones.raw)) == []


def test_a_spark_worker_killed_mid_run_loses_and_doubles_nothing(stack, profile):
    """docker kill of one of the two workers while a Spark task runs: Spark reschedules its
    tasks on the other worker, the run succeeds and the warehouse holds exactly what it held
    (the rerun has no new input)."""
    before = warehouse_tables(profile, profile.warehouse.analyst)
    run_id = pipeline.trigger(profile)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while pipeline.task_states(profile, MASTER_DAG_ID, run_id).get("silver_to_gold") != "running":
        assert time.monotonic() < deadline, "silver_to_gold never started"
        time.sleep(2)
    time.sleep(10)  # into the stage: executors are running its jobs
    victim = _services()["spark-worker"][0]["Name"]
    subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
    pipeline.wait_for_run(profile, run_id, timeout=RUN_TIMEOUT_S)
    assert warehouse_tables(profile, profile.warehouse.analyst) == before
    compose("up", "-d", "--wait", "spark-worker", timeout=600)  # back to two workers


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
