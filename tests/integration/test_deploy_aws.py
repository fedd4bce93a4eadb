"""`lakehouse deploy` against moto's server on loopback: a dry run only reads; a deploy uploads
the artifacts and creates the Glue jobs with the exact arguments and applies the warehouse
bootstrap through the Data API; a second deploy makes no call that writes; a changed artifact
is the only thing a third deploy writes. Plus the Glue argument vector the jobs parse."""

from __future__ import annotations

import json
import secrets

import boto3
import pytest
from moto_aws import AWS_PROFILE_ENV, MotoServer

from lakehouse.backends import backends
from lakehouse.config import load_profile
from lakehouse.platform import deploy
from lakehouse.warehouse import sql as warehouse_sql
from spark_jobs.runtime import parse_args


@pytest.fixture
def aws(tmp_path, monkeypatch):
    server = MotoServer(tmp_path / "recording.jsonl").start()
    for key, value in server.aws_env().items():
        monkeypatch.setenv(key, value)
    profile = load_profile("aws")
    s3 = boto3.client("s3", region_name="eu-west-1")
    server.reset()
    yield profile, server, s3
    server.stop()


def test_dry_run_only_reads(aws):
    profile, server, _ = aws
    calls = deploy.deploy(profile, dry_run=True)
    kinds = sorted({(c.service, c.operation) for c in calls})
    assert kinds == [
        ("glue", "create_connection"),
        ("glue", "create_job"),
        ("redshift-data", "batch_execute_statement"),
        ("s3", "create_bucket"),
        ("s3", "put_object"),
    ]
    buckets = [c.params["Bucket"] for c in calls if c.operation == "create_bucket"]
    assert buckets == [profile.spark.artifacts_bucket, *profile.bucket_names]
    assert all(
        c.params["CreateBucketConfiguration"] == {"LocationConstraint": "eu-west-1"}
        for c in calls
        if c.operation == "create_bucket"
    )
    assert server.mutations() == []
    assert all(c.describe() for c in calls)


def test_deploy_then_a_second_deploy_changes_nothing(aws):
    profile, server, s3 = aws
    bucket = profile.spark.artifacts_bucket
    first = deploy.deploy(profile)
    created = [
        json.loads(r["body"])
        for r in server.requests()
        if r["headers"].get("X-Amz-Target") == "AWSGlue.CreateJob"
    ]
    # The operational DB's job reaches it through the Glue connection the deploy creates.
    assert [c["Name"] for c in created] == [
        "lakehouse-db-to-bronze",
        "lakehouse-bronze-to-silver",
        "lakehouse-silver-to-gold",
    ]
    assert created[0]["Connections"] == {"Connections": ["lakehouse-operational"]}
    assert all("Connections" not in c for c in created[1:])
    (request,) = [
        json.loads(r["body"])["ConnectionInput"]
        for r in server.requests()
        if r["headers"].get("X-Amz-Target") == "AWSGlue.CreateConnection"
    ]
    assert (request["Name"], request["ConnectionType"]) == ("lakehouse-operational", "JDBC")
    connection = boto3.client("glue").get_connection(Name="lakehouse-operational")["Connection"]
    assert connection["ConnectionProperties"] == {
        "JDBC_CONNECTION_URL": AWS_PROFILE_ENV["LAKEHOUSE_SOURCE_JDBC_URL"],
        "SECRET_ID": AWS_PROFILE_ENV["LAKEHOUSE_SOURCE_SECRET_ARN"],
    }
    assert connection["PhysicalConnectionRequirements"] == {
        "SubnetId": AWS_PROFILE_ENV["LAKEHOUSE_SOURCE_SUBNET_ID"],
        "SecurityGroupIdList": [AWS_PROFILE_ENV["LAKEHOUSE_SOURCE_SECURITY_GROUP_ID"]],
        "AvailabilityZone": AWS_PROFILE_ENV["LAKEHOUSE_SOURCE_AVAILABILITY_ZONE"],
    }
    for job, request in zip(deploy.jobs(profile), created, strict=True):
        expected = deploy.job_definition(profile, job)
        assert {k: request[k] for k in expected} == expected
        args = request["DefaultArguments"]
        assert args["--datalake-formats"] == "delta"
        assert args["--extra-py-files"] == f"s3://{bucket}/glue/lib/spark_jobs.zip"
        assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in args["--conf"]
        assert request["GlueVersion"] == "5.1"
        assert request["Command"]["ScriptLocation"] == f"s3://{bucket}/glue/jobs/{job}.py"
    (batch,) = [c for c in server.calls() if c.action == "BatchExecuteStatement"]
    assert batch.action == "BatchExecuteStatement"
    assert batch.params["WorkgroupName"] == "lakehouse-wg"
    # Run as the admin: the loader's secret may not CREATE SCHEMA or grant on it.
    assert batch.params["SecretArn"] == AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_ADMIN_SECRET_ARN"]
    target = backends(profile).warehouse
    assert batch.params["Sqls"] == warehouse_sql.bootstrap("redshift", **target.bootstrap_names())
    assert batch.params["Sqls"][0] == 'CREATE SCHEMA IF NOT EXISTS "analytics"'
    for key, body in deploy.artifacts(profile).items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    # buckets, artifacts, the connection, three jobs, the bootstrap and its record
    assert len(first) == 1 + len(profile.bucket_names) + len(deploy.artifacts(profile)) + 1 + 3 + 2
    listed = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {bucket, *profile.bucket_names} <= listed

    server.reset()
    assert deploy.deploy(profile) == []
    assert server.mutations() == []

    s3.put_object(Bucket=bucket, Key="glue/jobs/silver_to_gold.py", Body=b"# edited by hand\n")
    server.reset()
    (fix,) = deploy.deploy(profile)
    assert (fix.operation, fix.params["Key"], fix.reason) == (
        "put_object",
        "glue/jobs/silver_to_gold.py",
        "changed",
    )


def test_the_library_zip_is_reproducible_and_importable(tmp_path):
    import zipfile

    assert deploy.library_zip() == deploy.library_zip()
    path = tmp_path / "spark_jobs.zip"
    path.write_bytes(deploy.library_zip())
    names = zipfile.ZipFile(path).namelist()
    assert {
        "spark_jobs/__init__.py",
        "spark_jobs/runtime.py",
        "spark_jobs/gold/marts.py",
        "spark_jobs/silver/transforms.py",
    } <= set(names)


def test_the_jobs_parse_the_argument_vector_glue_passes():
    argv = [
        "/tmp/glue/bronze_to_silver.py",
        "--JOB_ID",
        "j_0123",
        "--JOB_RUN_ID",
        "jr_0456",
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--TempDir",
        "s3://t/tmp",
        "--JOB_NAME",
        "lakehouse-bronze-to-silver",
        "--specs",
        '[{"dataset": "events"}]',
        "--batch_id",
        "manual__2026-11-26T07-00-00_00-00",
    ]
    args = parse_args("bronze_to_silver", ["specs", "batch_id"], argv)
    assert args == {
        "specs": '[{"dataset": "events"}]',
        "batch_id": "manual__2026-11-26T07-00-00_00-00",
    }


def test_a_job_reads_its_database_login_from_secrets_manager_or_the_environment(aws, monkeypatch):
    """db_to_bronze's login: on Glue the Secrets Manager secret the profile names (here on
    moto), locally the variable the launcher sets; never in the job's arguments."""
    from spark_jobs.runtime import login

    manager = boto3.client("secretsmanager")
    word = secrets.token_hex(8)  # generated: no literal credential in the repository
    doc = {"username": "etl_reader", "password": word, "engine": "postgres"}
    arn = manager.create_secret(Name="lakehouse-source", SecretString=json.dumps(doc))["ARN"]
    assert login(arn) == ("etl_reader", word)

    local = load_profile("local").source_db
    ref, env = local.job_login()
    assert ref == "env:LAKEHOUSE_JDBC_LOGIN_SECRET" and local.password not in ref
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert login(ref) == (local.user, local.password)

    bare = manager.create_secret(Name="no-password", SecretString='{"username": "x"}')["ARN"]
    with pytest.raises(KeyError, match=r"no \['password'\]"):
        login(bare)
    with pytest.raises(KeyError, match="did not set LAKEHOUSE_NOPE"):
        login("env:LAKEHOUSE_NOPE")
    with pytest.raises(ValueError, match="expected env:<VARIABLE> or a Secrets Manager ARN"):
        login("hunter2")
