"""DAG integrity: the generated DAGs import under every runnable profile with the guarantees the
pipeline promises (one run at a time, retries with backoff from config, owners, tags, timeouts,
alerts, strict order), the set of DAGs follows the registry, and bad config is one clear error."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag

from lakehouse.config.pipelines import MASTER_TASKS, PIPELINES_FILE, load_pipelines
from lakehouse.config.registry import REGISTRY_FILE, load_registry

DAGS = Path(__file__).parents[2] / "airflow" / "dags"
MASTER = "lakehouse_pipeline"


def bag() -> DagBag:
    return DagBag(dag_folder=str(DAGS), include_examples=False)


@pytest.fixture(params=["local", "embedded"])
def dagbag(request, monkeypatch) -> DagBag:
    monkeypatch.setenv("LAKEHOUSE_PROFILE", request.param)
    return bag()


def test_no_import_errors_and_the_dag_set_is_the_registrys(dagbag):
    assert dagbag.import_errors == {}
    expected = {MASTER} | {f"ingest_{name}" for name in load_registry().file_datasets}
    assert set(dagbag.dags) == expected


def test_every_dag_has_tags_owner_docs_retries_backoff_and_timeouts(dagbag):
    policy = load_pipelines().defaults
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and dag.doc_md, dag_id
        assert dag.max_active_runs == 1 and dag.catchup is False, dag_id
        dag.check_cycle()  # raises on a cycle
        for task in dag.tasks:
            where = f"{dag_id}.{task.task_id}"
            assert task.owner and task.owner != "airflow", where
            assert task.execution_timeout is not None, where
            if task.retries:
                assert task.retries == policy.retries, where
                assert task.retry_delay == timedelta(seconds=policy.retry_delay_seconds), where
                assert task.retry_exponential_backoff == policy.retry_exponential_backoff, where
                assert task.max_retry_delay == timedelta(seconds=policy.max_retry_delay_seconds)


def test_master_runs_layers_in_strict_order_one_run_at_a_time(dagbag):
    dag = dagbag.dags[MASTER]
    assert dag.max_active_runs == 1
    assert {t.task_id for t in dag.tasks} == set(MASTER_TASKS)
    upstream = {t.task_id: t.upstream_task_ids for t in dag.tasks}
    # First, the debounce of runs started by landings: a sensor (retried like the others).
    assert upstream["settle_landings"] == set()
    assert upstream["validate_config"] == {"settle_landings"}
    settle = dag.get_task("settle_landings")
    assert settle.mode == "poke" and settle.retries == load_pipelines().defaults.retries
    # BRONZE: file ingestion (mapped over the datasets validate_config returns) beside the DB.
    assert upstream["raw_to_bronze"] == {"validate_config"}
    assert upstream["db_to_bronze"] == {"validate_config"}
    assert upstream["bronze_to_silver"] == {"raw_to_bronze", "db_to_bronze"}
    order = [
        "bronze_to_silver",
        "silver_to_gold",
        "load_warehouse",
        "validate_warehouse",
        "run_summary",
    ]
    for up, down in zip(order, order[1:], strict=False):
        assert upstream[down] == {up}
    assert dag.get_task("run_summary").trigger_rule == "all_done"
    for task_id in ("validate_config", "validate_warehouse", "run_summary"):
        assert dag.get_task(task_id).retries == 0, task_id  # failures there are not transient
    timeouts = load_pipelines().master.execution_timeout_minutes
    for task_id, minutes in timeouts.items():
        assert dag.get_task(task_id).execution_timeout == timedelta(minutes=minutes), task_id
    assert set(dag.params) == {"datasets"}


def _bronze_assets(profile: str) -> set[tuple[str, str]]:
    from lakehouse.config import load_profile

    prof = load_profile(profile)
    return {
        (f"bronze/{d}", prof.uri("bronze", d))  # Airflow keeps the URI without its last slash
        for d in load_registry().file_datasets
    }


@pytest.mark.parametrize("profile", ["local", "embedded"])
def test_the_master_is_scheduled_on_every_landing_and_its_cron(monkeypatch, profile):
    """Data-aware scheduling: any `bronze/<dataset>` asset event starts the master, beside its
    cron when it has one (AssetOrTimeSchedule); `on_landing: false` leaves the cron alone."""
    from airflow.sdk import AssetAny, AssetOrTimeSchedule

    monkeypatch.setenv("LAKEHOUSE_PROFILE", profile)
    assets = _bronze_assets(profile)
    monkeypatch.setenv("LAKEHOUSE_MASTER_ON_LANDING", "true")
    monkeypatch.setenv("LAKEHOUSE_MASTER_SCHEDULE", "none")
    alone = bag().dags[MASTER].schedule
    assert isinstance(alone, AssetAny)
    assert {(a.name, a.uri) for a in alone.objects} == assets
    monkeypatch.setenv("LAKEHOUSE_MASTER_SCHEDULE", "@hourly")
    both = bag().dags[MASTER].schedule
    assert isinstance(both, AssetOrTimeSchedule)
    assert both.timetable.expression == "@hourly"
    assert {(a.name, a.uri) for a in both.asset_condition.objects} == assets
    monkeypatch.setenv("LAKEHOUSE_MASTER_ON_LANDING", "false")
    assert bag().dags[MASTER].schedule == "@hourly"
    monkeypatch.setenv("LAKEHOUSE_MASTER_SCHEDULE", "none")
    assert bag().dags[MASTER].schedule is None
    # Each ingestion DAG emits its own dataset's asset, from the task that lands the files.
    dags = bag().dags
    for name in load_registry().file_datasets:
        (outlet,) = dags[f"ingest_{name}"].get_task("ingest").outlets
        assert outlet.name == f"bronze/{name}" and (outlet.name, outlet.uri) in assets


def test_failures_alert_by_email_and_the_master_has_a_deadline(dagbag):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    dag = dagbag.dags[MASTER]
    for task in dag.tasks:
        if task.task_id != "run_summary":  # fails only after another task failed and alerted
            assert any(isinstance(n, SmtpNotifier) for n in task.on_failure_callback), task.task_id
    (deadline,) = dag.deadline
    assert deadline.interval == timedelta(minutes=load_pipelines().master.deadline_minutes)
    assert "SmtpNotifier" in str(deadline.callback.path)


def test_the_aws_profile_alerts_through_sns_when_it_names_a_topic(monkeypatch):
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
    from moto_aws import AWS_PROFILE_ENV

    for key, value in AWS_PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "aws")
    silent = bag().dags[MASTER]  # no topic: no sink, no alert (the profile's comment says so)
    assert not any(t.on_failure_callback for t in silent.tasks) and not silent.deadline
    topic = "arn:aws:sns:eu-west-1:123456789012:lakehouse-alerts"
    monkeypatch.setenv("LAKEHOUSE_ALERTS_SNS_TOPIC_ARN", topic)
    dag = bag().dags[MASTER]
    for task in dag.tasks:
        if task.task_id != "run_summary":
            (sns,) = [n for n in task.on_failure_callback if isinstance(n, SnsNotifier)]
            assert (sns.target_arn, sns.region_name) == (topic, "eu-west-1"), task.task_id
    (deadline,) = dag.deadline  # no SMTP on the aws profile: the SNS deadline alone
    assert "SnsNotifier" in str(deadline.callback.path)
    assert deadline.callback.kwargs["target_arn"] == topic
    assert deadline.interval == timedelta(minutes=load_pipelines().master.deadline_minutes)


def test_one_sensor_led_ingestion_dag_per_file_dataset(dagbag):
    for name, spec in load_registry().file_datasets.items():
        dag = dagbag.dags[f"ingest_{name}"]
        assert dag.schedule == timedelta(minutes=spec.sensor_schedule_minutes)
        sensor = dag.get_task("wait_for_files")
        assert sensor.deferrable and sensor.soft_fail
        assert dag.get_task("ingest").upstream_task_ids == {"wait_for_files"}
        assert type(sensor).__name__ in ("S3KeySensor", "FileSensor")
        assert dag.get_task("ingest").owner == spec.owner


def test_spark_tasks_submit_the_glue_compatible_scripts(dagbag):
    dag = dagbag.dags[MASTER]
    for task_id in ("bronze_to_silver", "silver_to_gold", "db_to_bronze"):
        task = dag.get_task(task_id)
        assert Path(task.application).is_file()
        assert Path(task.application).name == f"{task_id}.py"
        assert "io.delta.sql.DeltaSparkSessionExtension" in task.conf.values()


def test_a_new_dataset_in_the_registry_is_a_new_dag_without_code(monkeypatch, tmp_path):
    registry = yaml.safe_load(REGISTRY_FILE.read_text())
    registry["file_datasets"]["clicks"] = {
        "owner": "growth-team",
        "sensor_schedule_minutes": 10,
        "silver": {**registry["file_datasets"]["events"]["silver"]},
    }
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump(registry))
    monkeypatch.setenv("LAKEHOUSE_DATASETS_FILE", str(path))
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "local")
    dags = bag().dags
    assert dags["ingest_clicks"].schedule == timedelta(minutes=10)
    assert dags["ingest_clicks"].get_task("ingest").owner == "growth-team"
    assert "clicks" in dags[MASTER].params["datasets"]
    assert '"dataset": "clicks"' in dags[MASTER].get_task("bronze_to_silver").application_args[1]


@pytest.mark.parametrize(
    ("env", "text", "expected"),
    [
        ("LAKEHOUSE_PROFILE", "does-not-exist", "no such profile file"),
        (
            "LAKEHOUSE_PIPELINES_FILE",
            "defaults: {owner: x, retries: -1}\n",
            "key 'defaults.retries'",
        ),
        (
            "LAKEHOUSE_DATASETS_FILE",
            "file_datasets: {events: {sensor_schedule_minutes: 0}}\n",
            "key 'file_datasets.events.owner'",
        ),
    ],
)
def test_bad_config_is_a_clear_import_error_in_every_dag_file(
    monkeypatch, tmp_path, env, text, expected
):
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "local")
    if env == "LAKEHOUSE_PROFILE":
        monkeypatch.setenv(env, text)
    else:
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        monkeypatch.setenv(env, str(path))
    result = bag()
    assert result.dags == {}
    files = sorted(str(f) for f in DAGS.glob("*.py"))
    assert sorted(result.import_errors) == files  # one error per DAG file, none silently empty
    for error in result.import_errors.values():
        assert expected in error, error


def test_the_master_is_hourly_unless_the_environment_says_otherwise(monkeypatch):

    # @hourly when nothing is set; .env.example sets `none` for the local stacks.
    assert "schedule: ${LAKEHOUSE_MASTER_SCHEDULE:-@hourly}" in PIPELINES_FILE.read_text()
    monkeypatch.setenv("LAKEHOUSE_MASTER_SCHEDULE", "none")
    assert load_pipelines().master.schedule is None
    monkeypatch.setenv("LAKEHOUSE_MASTER_SCHEDULE", "@daily")
    assert load_pipelines().master.schedule == "@daily"


def test_the_same_dag_file_runs_glue_jobs_with_the_same_arguments_on_aws(monkeypatch):
    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    monkeypatch.setenv("LAKEHOUSE_PROFILE", "local")
    local = bag().dags[MASTER]
    from moto_aws import AWS_PROFILE_ENV

    for key, value in AWS_PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "aws")
    aws_bag = bag()
    assert aws_bag.import_errors == {}
    aws = aws_bag.dags[MASTER]
    for task_id in ("db_to_bronze", "bronze_to_silver", "silver_to_gold"):
        glue, submit = aws.get_task(task_id), local.get_task(task_id)
        assert isinstance(glue, GlueJobOperator) and glue.deferrable
        assert glue.job_name == f"lakehouse-{task_id.replace('_', '-')}"
        local_names = submit.application_args[0::2]
        assert list(glue.script_args) == local_names  # the same job arguments, in order
    # The operational DB's login: a Secrets Manager ARN on Glue, an env variable locally.
    assert (
        aws.get_task("db_to_bronze")
        .script_args["--jdbc_login"]
        .startswith("arn:aws:secretsmanager:")
    )
    assert local.get_task("db_to_bronze").env_vars.keys() == {"LAKEHOUSE_JDBC_LOGIN_SECRET"}
    assert "env:LAKEHOUSE_JDBC_LOGIN_SECRET" in local.get_task("db_to_bronze").application_args


def test_glue_runs_end_inside_their_tasks_and_are_stopped_with_them(monkeypatch, tmp_path):
    """Glue's timeout < the task's execution timeout < the deferred trigger's patience, for
    every Glue task (before: 120 min > 60 min < 75 min, so a run outlived its task); a killed
    task stops its run; a retry reattaches to a run still going."""
    from moto_aws import AWS_PROFILE_ENV

    from lakehouse.backends import backends
    from lakehouse.config import load_profile
    from lakehouse.platform.deploy import job_definition

    for key, value in AWS_PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "aws")
    aws = bag().dags[MASTER]
    profile = load_profile("aws")
    glue_tasks = [t for t in aws.tasks if hasattr(t, "waiter_max_attempts")]
    assert sorted(t.task_id for t in glue_tasks) == [
        "bronze_to_silver",
        "db_to_bronze",
        "silver_to_gold",
    ]
    for task in glue_tasks:
        glue_minutes = job_definition(profile, task.task_id)["Timeout"]
        task_minutes = task.execution_timeout / timedelta(minutes=1)
        patience_minutes = task.waiter_delay * task.waiter_max_attempts / 60
        assert glue_minutes < task_minutes < patience_minutes, (task.task_id, glue_minutes)
        assert task_minutes == load_pipelines().execution_timeout_minutes(task.task_id)
        assert task.stop_job_run_on_kill and task.durable

    # A task timeout that leaves Glue no time is refused, naming the keys to change.
    pipelines = tmp_path / "pipelines.yaml"
    config = yaml.safe_load(PIPELINES_FILE.read_text())
    config["master"]["execution_timeout_minutes"]["silver_to_gold"] = 5
    pipelines.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("LAKEHOUSE_PIPELINES_FILE", str(pipelines))
    with pytest.raises(ValueError, match="silver_to_gold: master.execution_timeout_minutes"):
        job_definition(profile, "silver_to_gold")
    runner = backends(profile).spark
    with pytest.raises(ValueError, match="spark.stop_margin_minutes"):
        runner.operator_args(
            "silver_to_gold", "silver_to_gold.py", {}, timeout=timedelta(minutes=5)
        )


PARSE_PROBE = """
import importlib.util, sys
dags = 0
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags += len([d for d in vars(module).values() if type(d).__name__ == "DAG"])
print(dags)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j", "delta")))
"""


@pytest.mark.parametrize("profile", ["local", "embedded", "aws"])
def test_parsing_the_dag_file_imports_no_spark(profile):
    """The DAG processor parses the file every few seconds, and MWAA's workers have no pyspark:
    building the DAGs must not import it (nor py4j or delta-spark)."""
    import subprocess
    import sys

    from moto_aws import AWS_PROFILE_ENV

    env = {**os.environ, "LAKEHOUSE_PROFILE": profile}
    if profile == "aws":
        env.update(AWS_PROFILE_ENV)
    probe = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, *map(str, sorted(DAGS.glob("*.py")))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    dag_count, spark_modules = probe.stdout.strip().splitlines()[-2:]
    assert int(dag_count) == 1 + len(load_registry().file_datasets)  # the master, one per dataset
    assert spark_modules == "[]", spark_modules
