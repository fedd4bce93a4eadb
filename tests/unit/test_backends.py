"""The backend objects: one per role, chosen once from the profile, and nothing outside the
factory testing which kind a profile names."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest
from moto_aws import AWS_PROFILE_ENV

from lakehouse import backends as factory
from lakehouse.backends import backends, spark, store, warehouse
from lakehouse.backends.base import AWS_CONN_ID, FS_CONN_ID, SPARK_CONN_ID, WAREHOUSE_CONN_ID
from lakehouse.config import Profile, load_profile

LAKEHOUSE = Path(__file__).parents[2] / "lakehouse"


def _members(field: str) -> set[type]:
    annotation = Profile.model_fields[field].annotation
    union = (
        typing.get_args(annotation)[0]
        if typing.get_origin(annotation) is typing.Annotated
        else annotation
    )
    return set(typing.get_args(union)) or {union}


def test_every_kind_a_profile_can_name_has_a_backend():
    assert set(factory._STORES) == _members("object_store")
    assert set(factory._RUNNERS) == _members("spark")
    assert set(factory._WAREHOUSES) == _members("warehouse")


@pytest.mark.parametrize(
    ("name", "expected", "connections", "native"),
    [
        (
            "local",
            (store.S3, spark.SparkSubmit, warehouse.Postgres),
            {AWS_CONN_ID, SPARK_CONN_ID, WAREHOUSE_CONN_ID},
            {"s3", "spark", "postgres"},
        ),
        (
            "embedded",
            (store.Filesystem, spark.SparkSubmit, warehouse.Postgres),
            {FS_CONN_ID, SPARK_CONN_ID, WAREHOUSE_CONN_ID},
            {"postgres"},
        ),
        ("aws", (store.S3, spark.Glue, warehouse.Redshift), {AWS_CONN_ID}, set()),
    ],
)
def test_each_profile_gets_its_backends(monkeypatch, name, expected, connections, native):
    for key, value in AWS_PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    roles = backends(load_profile(name))
    assert tuple(type(r) for r in roles.roles) == expected
    assert {c for r in roles.roles for c in r.airflow_connections()} == connections
    assert {r.native_service for r in roles.roles} - {None} == native


def test_only_glue_deploys_and_only_postgres_bootstraps_in_place(monkeypatch):
    from lakehouse import warehouse as loading
    from lakehouse.platform.deploy import bootstrap_batches

    for key, value in AWS_PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    local, aws = load_profile("local"), load_profile("aws")
    with pytest.raises(ValueError, match="spark.kind=glue"):
        backends(local).spark.deploy_target()
    glue = backends(aws).spark.deploy_target()
    assert glue.job_name("bronze_to_silver") == "lakehouse-bronze-to-silver"
    with pytest.raises(TypeError, match="lakehouse deploy"):
        loading.bootstrap(aws)
    assert bootstrap_batches(local) == []
    (batch,) = bootstrap_batches(aws)
    assert batch["WorkgroupName"] == AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_WORKGROUP"]
    # The admin's secret, not the loader's: the loader may not CREATE SCHEMA.
    assert batch["SecretArn"] == AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_ADMIN_SECRET_ARN"]
    assert batch["SecretArn"] != aws.warehouse.secret_arn
    assert any(s.startswith("CREATE SCHEMA") for s in batch["Sqls"]), batch["Sqls"]
    assert {type(loading.loader(p)).__name__ for p in (local, aws)} == {
        "PostgresLoader",
        "RedshiftDataLoader",
    }


CONFIG_KINDS = {
    "S3Store",
    "FilesystemStore",
    "SparkCluster",
    "GlueSpark",
    "PostgresWarehouse",
    "RedshiftWarehouse",
}


def test_no_module_tests_which_kind_a_profile_names():
    """`isinstance` on the profile's backend sections (or `.kind ==`) only in the factory."""
    found = []
    for path in sorted(LAKEHOUSE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(LAKEHOUSE.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & CONFIG_KINDS:
                    found.append(where)
            compare = isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute)
            if compare and node.left.attr == "kind" and path.parent.name != "backends":
                found.append(where)
    assert found == []


def test_the_profiles_jvm_options_reach_the_driver_and_the_executors():
    local = load_profile("local")
    options = {"driver_java_options": "-Xss4m", "executor_java_options": " -XX:+UseSerialGC "}
    conf = spark.SparkSubmit(local.spark.model_copy(update=options), backends(local).store).conf()
    # The driver keeps its log configuration next to the profile's options.
    assert conf["spark.driver.extraJavaOptions"] == (
        f"-Dlog4j.configurationFile={spark.DRIVER_LOG_CONFIG} -Xss4m"
    )
    assert conf["spark.executor.extraJavaOptions"] == "-XX:+UseSerialGC"

    bare = spark.SparkSubmit(
        local.spark.model_copy(update={"driver_java_options": "", "executor_java_options": ""}),
        backends(local).store,
    ).conf()
    assert bare["spark.driver.extraJavaOptions"] == (
        f"-Dlog4j.configurationFile={spark.DRIVER_LOG_CONFIG}"
    )
    assert "spark.executor.extraJavaOptions" not in bare
