"""The master DAG on the aws profile, run by Airflow (`dag.test()` in a child process) against
moto's server on loopback, after `lakehouse deploy`: the RAW files are ingested on S3, the
Glue jobs are started with the arguments the local run gives spark-submit, and the warehouse
is loaded and checked through the Redshift Data API (COPY ... IAM_ROLE ... FORMAT AS PARQUET,
the one-batch swap, the validation queries), in that order.

moto runs no Spark: the Glue runs succeed without output, so the reference GOLD export is put
where silver_to_gold would have published it, and the Data API's validation queries answer
with GOLD's own figures (see moto_aws.py)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto_aws import CopiedWarehouse, MotoServer, upload_gold_export

from lakehouse.config import Profile, load_profile
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.platform import deploy, pipeline
from lakehouse.platform.airflow_env import airflow_connections
from lakehouse.warehouse import sql as warehouse_sql

TESTS = Path(__file__).parents[1]
SPARK_TASKS = ("db_to_bronze", "bronze_to_silver", "silver_to_gold")
# Where each profile reaches the operational DB and its login: the same argument, other values.
SOURCE_ARGS = ("jdbc_url", "jdbc_login")


@pytest.fixture
def moto(tmp_path):
    server = MotoServer(tmp_path / "recording.jsonl").start()
    yield server
    server.stop()


def _events(requests: list[dict]) -> list[tuple[str, str, dict | str]]:
    """(service, action, detail) for every recorded request, in arrival order."""
    out = []
    for r in requests:
        target = r["headers"].get("X-Amz-Target", "")
        if target:
            service, _, action = target.partition(".")
            out.append((service, action, json.loads(r["body"] or "{}")))
        else:
            path = r["url"].split("://", 1)[1].split("/", 1)[1]
            out.append(("S3", r["method"], path))
    return out


def _normalised(args: dict[str, str], profile: Profile, run_key: str) -> dict[str, str]:
    """Job arguments with each zone's location and the run key replaced by placeholders."""
    out = {}
    for name, value in args.items():
        for zone in profile.zones.model_dump():
            value = value.replace(profile.spark_uri(zone).rstrip("/"), f"<{zone}>")
        out[name.removeprefix("--")] = value.replace(run_key, "<run>")
    return out


def _local_job_args() -> dict[str, dict[str, str]]:
    """The arguments the local profile's master DAG gives spark-submit, per Spark task."""
    from lakehouse.config.pipelines import load_pipelines
    from lakehouse.config.registry import load_registry
    from lakehouse.orchestration.dags import build_master
    from lakehouse.orchestration.tasks import RUN_KEY

    local = load_profile("local")
    dag = build_master(local, load_registry(), load_pipelines())
    out = {}
    for task_id in SPARK_TASKS:
        argv = dag.get_task(task_id).application_args
        out[task_id] = _normalised(dict(zip(argv[::2], argv[1::2], strict=True)), local, RUN_KEY)
    return out


def _run_master(moto, profile: Profile, tmp_path: Path) -> tuple[dict, str]:
    """One master run by `dag.test()` in a child process on the aws profile against moto: its
    outcome (run id, state, task states) and the end of its output."""
    env = {
        **os.environ,
        **moto.aws_env(),
        **airflow_connections(profile),
        "LAKEHOUSE_PROFILE": "aws",
        "LAKEHOUSE_RETRIES": "0",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(TESTS.parent / "airflow" / "dags"),
    }
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, str(TESTS / "dag_inprocess.py"), MASTER_DAG_ID, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-4000:] + proc.stdout[-4000:]
    return json.loads(out.read_text()), proc.stdout[-8000:]


def test_the_master_dag_on_the_aws_profile_makes_the_expected_calls(
    moto, gold_export, tmp_path, monkeypatch
):
    for key, value in moto.aws_env().items():
        monkeypatch.setenv(key, value)
    profile = load_profile("aws")
    assert profile.object_store.endpoint_url == moto.endpoint  # ${AWS_ENDPOINT_URL} reached it

    deploy.deploy(profile)  # buckets, artifacts, Glue jobs, warehouse bootstrap
    manifest = json.loads((pipeline.SAMPLE / "manifest.json").read_text())
    dropped = pipeline.drop_reference_batch(profile, pipeline.SAMPLE, 1)
    upload_gold_export(gold_export, boto3.client("s3"), profile.zones.gold)
    copied = CopiedWarehouse(boto3.client("s3")).install()
    before = len(moto.requests())

    result, log = _run_master(moto, profile, tmp_path)
    assert result["state"] == "success", (result, log)
    assert result["tasks"]["db_to_bronze"] == "success"  # through the Glue connection

    events = _events(moto.requests()[before:])
    raw, bronze = profile.zones.raw, profile.zones.bronze

    def first(pred) -> int:
        return next(i for i, e in enumerate(events) if pred(e))

    # S3: RAW listed and read, BRONZE written, RAW emptied.
    listed_raw = first(lambda e: e[0] == "S3" and e[1] == "GET" and e[2].startswith(f"{raw}?"))
    wrote_bronze = first(lambda e: e[0] == "S3" and e[1] == "PUT" and e[2].startswith(bronze))
    deleted_raw = [
        e[2] for e in events if e[0] == "S3" and e[1] == "DELETE" and e[2].startswith(f"{raw}/")
    ]
    assert sorted(deleted_raw) == sorted(f"{raw}/{key}" for key in dropped)
    ingested = {Path(f["path"]).name for f in manifest["batches"][0]["files"]}
    assert {Path(k).name for k in dropped} == ingested

    # Glue: the two Spark jobs, in order, with the local run's arguments.
    starts = [(i, e[2]) for i, e in enumerate(events) if e[:2] == ("AWSGlue", "StartJobRun")]
    assert [s["JobName"] for _, s in starts] == [
        "lakehouse-db-to-bronze",
        "lakehouse-bronze-to-silver",
        "lakehouse-silver-to-gold",
    ]
    run_key = result["run_id"].replace(":", "-").replace("+", "_")
    local = _local_job_args()
    for task_id, (_, start) in zip(SPARK_TASKS, starts, strict=True):
        args = dict(start["Arguments"])
        # The operator tags each run with its task instance, so a retry can reattach to it.
        tag = args.pop("--airflow_task_uuid")
        assert tag == f"{MASTER_DAG_ID}:{task_id}:{result['run_id']}:-1"
        if task_id == "db_to_bronze":  # the RDS URL and the secret's ARN, not the login
            assert args["--jdbc_url"] == profile.source_db.url
            assert args["--jdbc_login"] == profile.source_db.secret_arn
            for name in SOURCE_ARGS:
                args[f"--{name}"] = local[task_id][name]
        if task_id == "silver_to_gold":  # the key's secret, by ARN: never the key
            assert args["--pii_key"] == profile.pseudonymisation.secret_arn
            args["--pii_key"] = local[task_id]["pii_key"]
        assert _normalised(args, profile, run_key) == local[task_id], task_id
        for zone in ("bronze", "silver"):  # Glue's s3://, no s3a
            expected = f"s3://{getattr(profile.zones, zone)}"
            assert args.get(f"--{zone}_root", expected) == expected

    # Redshift Data API: stage + COPY per table, staged figures, one-batch swap, live figures.
    data_api = [
        (i, e[1], e[2])
        for i, e in enumerate(events)
        if e[0] == "RedshiftData" and e[1] in ("ExecuteStatement", "BatchExecuteStatement")
    ]
    tables = sorted(warehouse_sql.table_defs())
    assert [a for _, a, _ in data_api] == (
        ["BatchExecuteStatement"] * len(tables)
        + ["ExecuteStatement", "BatchExecuteStatement", "ExecuteStatement"]
    )
    wh = profile.warehouse
    for _, _, params in data_api:
        assert (params["WorkgroupName"], params["Database"], params["SecretArn"]) == (
            wh.workgroup,
            wh.database,
            wh.secret_arn,
        )
    defs = [warehouse_sql.table_defs()[n] for n in tables]
    for table, (_, _, params) in zip(defs, data_api, strict=False):
        copy = params["Sqls"][-1]
        schema = warehouse_sql.schema_of(table, wh.schema_name)  # personal data: restricted
        assert copy.startswith(f'COPY "{schema}"."{table.name}__staging"'), copy
        assert f"IAM_ROLE '{wh.iam_role}'" in copy and "FORMAT AS PARQUET" in copy
    assert data_api[-3][2]["Sql"] == warehouse_sql.figures_query(defs, wh.schema_name, True)
    assert data_api[-2][2]["Sqls"] == warehouse_sql.swap(defs, wh.schema_name, "redshift")
    assert data_api[-1][2]["Sql"] == warehouse_sql.figures_query(defs, wh.schema_name, False)
    assert re.search(r"AS table_name", data_api[-1][2]["Sql"])
    # What the COPYs loaded, counted by another engine, is what is live after the swap.
    live = f'"{wh.schema_name}"."fact_transactions"'
    assert copied.rows(live) == copied.rows_in_files("fact_transactions") > 0

    # The order of the whole run (db_to_bronze runs beside the files' ingestion).
    db, silver, gold = (i for i, _ in starts)
    assert listed_raw < wrote_bronze < silver < gold < data_api[0][0] and db < silver


def test_a_failed_task_on_the_aws_profile_alerts_through_sns(moto, tmp_path, monkeypatch):
    """The aws profile's alert sink is an SNS topic: a task that fails (here load_warehouse,
    as moto's Glue runs publish no GOLD export) publishes the alert, which reaches the topic's
    subscriber (an SQS queue on moto) with the task, the run and the exception."""
    for key, value in moto.aws_env().items():
        monkeypatch.setenv(key, value)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="lakehouse-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="lakehouse-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    monkeypatch.setenv("LAKEHOUSE_ALERTS_SNS_TOPIC_ARN", topic)
    profile = load_profile("aws")
    assert profile.alerts.sns_topic_arn == topic
    deploy.deploy(profile)
    pipeline.drop_reference_batch(profile, pipeline.SAMPLE, 1)

    result, log = _run_master(moto, profile, tmp_path)
    assert result["state"] == "failed", (result, log)
    assert result["tasks"]["load_warehouse"] == "failed", result
    # run_summary fails the run when a task failed, with no alert of its own (by design).
    failed = sorted(
        t for t, state in result["tasks"].items() if state == "failed" and t != "run_summary"
    )

    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    alerts = [json.loads(m["Body"]) for m in received]  # SNS's envelope: Subject, Message
    assert sorted(a["Subject"] for a in alerts) == [
        f"[lakehouse] FAILED {MASTER_DAG_ID}.{task}" for task in failed
    ]
    (alert,) = [a for a in alerts if a["Subject"].endswith(".load_warehouse")]
    assert f"Run: {result['run_id']}" in alert["Message"]
    assert "Try: 1 of 1" in alert["Message"]
    assert "no gold export found" in alert["Message"]
