"""DAG integrity: every DAG file imports under every runnable profile, with the guarantees the
master pipeline promises (one run at a time, retries, tags, strict order)."""

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS = Path(__file__).parents[2] / "airflow" / "dags"


@pytest.fixture(params=["local", "embedded"])
def dagbag(request, monkeypatch) -> DagBag:
    monkeypatch.setenv("LAKEHOUSE_PROFILE", request.param)
    return DagBag(dag_folder=str(DAGS), include_examples=False)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG found"


def test_every_dag_has_tags_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_master_runs_layers_in_strict_order_one_run_at_a_time(dagbag):
    dag = dagbag.dags["lakehouse_master"]
    assert dag.max_active_runs == 1
    upstream = {t.task_id: t.upstream_task_ids for t in dag.tasks}
    # BRONZE: file ingestion (mapped over the registry's datasets) beside the DB branch.
    assert upstream["raw_to_bronze"] == {"validate_config"}
    assert upstream["db_to_bronze"] == {"validate_config"}
    assert upstream["bronze_to_silver"] == {"raw_to_bronze", "db_to_bronze"}
    order = ["bronze_to_silver", "silver_to_gold", "load_warehouse", "validate_warehouse"]
    for up, down in zip(order, order[1:], strict=False):
        assert upstream[down] == {up}


def test_one_sensor_led_ingestion_dag_per_file_dataset(dagbag):
    from lakehouse.registry import registry

    for name in registry().file_datasets:
        dag = dagbag.dags[f"ingest_{name}"]
        assert dag.max_active_runs == 1 and dag.schedule is not None
        sensor = dag.get_task("wait_for_files")
        assert sensor.deferrable and sensor.soft_fail
        assert dag.get_task("ingest").upstream_task_ids == {"wait_for_files"}
        assert type(sensor).__name__ in ("S3KeySensor", "FileSensor")


def test_spark_tasks_submit_the_glue_compatible_scripts(dagbag):
    dag = dagbag.dags["lakehouse_master"]
    for task_id in ("bronze_to_silver", "silver_to_gold", "db_to_bronze"):
        task = dag.get_task(task_id)
        assert Path(task.application).is_file()
        assert Path(task.application).name == f"{task_id}.py"
        assert "io.delta.sql.DeltaSparkSessionExtension" in task.conf.values()


def test_bad_profile_is_one_clear_import_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_PROFILE", "does-not-exist")
    bag = DagBag(dag_folder=str(DAGS), include_examples=False)
    files = sorted(DAGS.glob("*.py"))
    assert sorted(bag.import_errors) == [str(f) for f in files]  # one clear error per file
    for error in bag.import_errors.values():
        assert "does-not-exist" in error and "no such profile file" in error
