"""Glue runs governed by the aws master DAG's own operators, against moto's Glue on loopback
after `lakehouse deploy`: a killed task stops its Glue run; a retry reattaches to the run its
previous try left going instead of starting a second one (MaxConcurrentRuns=1, which moto
enforces); a data-quality failure reported by Glue through the deferred trigger is not retried,
while any other failure is.

The operators are taken from the parsed DAG and driven through the calls Airflow's task
runner makes (submit, on_kill, resume after the trigger), with a task instance that records
what the operator hands it; moto's Glue runs are held active until stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferralError
from moto_aws import MotoServer, hold_glue_runs, release_glue_runs

from lakehouse.config import load_profile
from lakehouse.config.pipelines import MASTER_DAG_ID, load_pipelines
from lakehouse.config.registry import load_registry
from lakehouse.orchestration.dags import build_master
from lakehouse.platform import deploy
from lakehouse.report.run_summary import run_key

RUN_ID = "manual__2026-12-04T10:00:00+00:00"
TASK = "bronze_to_silver"
JOB = "lakehouse-bronze-to-silver"
ACTIVE = ("STARTING", "RUNNING")  # a Glue run not yet ended (moto holds it in the first)


@dataclass
class TaskInstance:
    """What the operator reads of its task instance and the XComs it pushes."""

    try_number: int
    dag_id: str = MASTER_DAG_ID
    task_id: str = TASK
    run_id: str = RUN_ID
    map_index: int = -1
    pushed: dict = field(default_factory=dict)

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, key=None, task_ids=None):
        return None  # Airflow 3 clears a task's XComs before each try


@pytest.fixture
def aws(tmp_path, monkeypatch):
    server = MotoServer(tmp_path / "recording.jsonl").start()
    for key, value in server.aws_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "aws")
    profile = load_profile("aws")
    deploy.deploy(profile)
    hold_glue_runs()
    yield server, profile
    release_glue_runs()
    server.stop()


def operator():
    """The bronze_to_silver task of a freshly parsed aws master DAG (a new try's copy)."""
    dag = build_master(load_profile("aws"), load_registry(), load_pipelines())
    return dag.get_task(TASK)


def context(try_number: int) -> dict:
    return {"ti": TaskInstance(try_number), "run_id": RUN_ID}


def state(run_id: str) -> str:
    glue = boto3.client("glue")
    return glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"]["JobRunState"]


def started(server) -> list[str]:
    return [c.action for c in server.calls("AWSGlue.") if c.action == "StartJobRun"]


def test_a_killed_task_stops_its_glue_run(aws):
    server, _ = aws
    task = operator()
    run_id = task.submit_job(context(1))
    assert state(run_id) in ACTIVE
    task.on_kill()  # what Airflow calls when the task is marked failed or times out
    assert state(run_id) == "STOPPED"
    (stop,) = [c for c in server.calls("AWSGlue.") if c.action == "BatchStopJobRun"]
    assert stop.params == {"JobName": JOB, "JobRunIds": [run_id]}


def test_a_retry_reattaches_to_the_run_its_previous_try_left_going(aws):
    server, _ = aws
    first = operator().submit_job(context(1))
    # The worker died; the run goes on. Try 2 finds it by the task's id in its arguments.
    second = operator().submit_job(context(2))
    assert second == first and state(first) in ACTIVE
    assert started(server) == ["StartJobRun"]
    # Once that run has ended, a retry starts a new one (MaxConcurrentRuns=1 allows it).
    boto3.client("glue").batch_stop_job_run(JobName=JOB, JobRunIds=[first])
    third = operator().submit_job(context(3))
    assert third != first and started(server) == ["StartJobRun", "StartJobRun"]


def _put_metrics(profile, checks: list[dict]) -> None:
    key = f"runs/{run_key(RUN_ID)}/{TASK}/part-00000.txt"
    body = json.dumps({"stage": TASK, "dq": checks})
    boto3.client("s3").put_object(Bucket=profile.zones.metrics, Key=key, Body=body.encode())


def test_a_data_quality_failure_reported_by_glue_is_not_retried(aws):
    _, profile = aws
    task = operator()
    glue_says = (
        "AWS Glue job failed.: Status of AWS Glue job is: FAILED - DataQualityFailed: data "
        "quality checks failed:\nevents: error_rate observed 0.31 (limit 0.05)"
    )
    # The trigger failed (Glue reported FAILED): Airflow resumes the task to fail it.
    with pytest.raises(AirflowFailException, match="(?s)not retried.*error_rate observed 0.31"):
        task.resume_execution("__fail__", {"error": glue_says}, context(1))
    # The trigger's event with an error status, handled by the operator's execute_complete.
    event = {"status": "error", "message": glue_says, "run_id": "jr_1"}
    with pytest.raises(AirflowFailException, match="not retried"):
        task.resume_execution("execute_complete", {"event": event}, context(1))
    # Any other failure stays retryable.
    with pytest.raises(TaskDeferralError, match="Status of AWS Glue job is: FAILED"):
        task.resume_execution(
            "__fail__", {"error": "Status of AWS Glue job is: FAILED"}, context(1)
        )
    # The job's metrics say a check failed, whatever Glue's message: not retried either.
    _put_metrics(profile, [{"check": "error_rate", "passed": False, "observed": 0.4}])
    with pytest.raises(AirflowFailException, match="error_rate observed 0.4"):
        task.resume_execution(
            "__fail__", {"error": "Status of AWS Glue job is: FAILED"}, context(1)
        )
