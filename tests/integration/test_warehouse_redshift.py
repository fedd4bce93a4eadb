"""The aws profile's warehouse load against moto's server on loopback: the exact Redshift Data
API calls (workgroup, database, secret), the SQL they carry (staging DDL with the Redshift
layout, COPY ... IAM_ROLE ... FORMAT AS PARQUET from a manifest, the one-transaction swap, the
validation query) and the manifests written next to the reference GOLD export.

moto does not run SQL: the statements go to a stand-in that loads what each COPY's manifest lists
into DuckDB and answers the validation query there (moto_aws.CopiedWarehouse), so the figures the
loader compares with GOLD's come from the copied files through another engine; what is asserted
is what the loader sent and decided."""

from __future__ import annotations

import json

import boto3
import pytest
from moto_aws import AWS_PROFILE_ENV, CopiedWarehouse, MotoServer, upload_gold_export

from lakehouse import warehouse
from lakehouse.backends import backends
from lakehouse.config import Profile, RedshiftWarehouse, S3Store, load_profile
from lakehouse.warehouse import sql as warehouse_sql

WORKGROUP = AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_WORKGROUP"]
DATABASE = AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_DATABASE"]
SECRET = AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_SECRET_ARN"]
COPY_ROLE = AWS_PROFILE_ENV["LAKEHOUSE_REDSHIFT_COPY_ROLE_ARN"]
GOLD_BUCKET = f"{AWS_PROFILE_ENV['LAKEHOUSE_BUCKET_PREFIX']}-gold"


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "recording.jsonl").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws_bare(moto):
    """The aws profile pointed at moto, with an empty gold bucket."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _aws_profile(moto, monkeypatch)


@pytest.fixture(scope="module")
def aws_profile(aws_bare, gold_export: Profile):
    """The aws profile pointed at moto, with the reference GOLD export uploaded to its bucket."""
    profile, s3 = aws_bare
    upload_gold_export(gold_export, s3, GOLD_BUCKET)
    return profile, s3


@pytest.fixture
def aws(aws_profile, moto):
    moto.reset()
    return aws_profile


@pytest.fixture
def aws_no_gold(aws_bare, moto):
    moto.reset()
    return aws_bare


def _aws_profile(moto, monkeypatch) -> tuple[Profile, object]:
    for key, value in moto.aws_env().items():
        monkeypatch.setenv(key, value)
    profile = load_profile("aws")
    store = S3Store(
        kind="s3",
        endpoint_url=moto.endpoint,
        region="eu-west-1",
        access_key_id="testing",
        secret_access_key="testing",
    )
    profile = profile.model_copy(update={"object_store": store})
    assert isinstance(profile.warehouse, RedshiftWarehouse)
    s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="eu-west-1")
    s3.create_bucket(
        Bucket=GOLD_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return profile, s3


def backend(profile: Profile) -> warehouse.RedshiftDataLoader:
    return warehouse.RedshiftDataLoader(
        backends(profile).warehouse, aws_conn_id=None, poll_interval=0
    )


def test_load_issues_the_exact_data_api_calls(aws, moto):
    profile, s3 = aws
    copied = CopiedWarehouse(s3).install()
    report = warehouse.load(profile, backend=backend(profile))
    tables = sorted(warehouse_sql.table_defs())
    assert sorted(report.tables) == tables and report.skipped == []

    calls = [c for c in moto.calls() if c.action.endswith("ExecuteStatement")]
    for call in calls:
        assert call.params["WorkgroupName"] == WORKGROUP
        assert call.params["Database"] == DATABASE
        assert call.params["SecretArn"] == SECRET
    assert [c.action for c in calls] == ["BatchExecuteStatement"] * len(tables) + [
        "ExecuteStatement",
        "BatchExecuteStatement",
    ]

    schema = profile.warehouse.schema_name
    defs = warehouse_sql.table_defs()
    restricted = warehouse_sql.restricted_schema(schema)
    # Personal data (user_pii) is staged, swapped and read in the restricted schema.
    where = {n: restricted if defs[n].restricted else schema for n in tables}
    assert [n for n in tables if where[n] == restricted] == ["user_pii"]
    for name, call in zip(tables, calls, strict=False):  # stage: drop, create, COPY
        drop, create, copy = call.params["Sqls"]
        assert drop == f'DROP TABLE IF EXISTS "{where[name]}"."{name}__staging"'
        assert create.startswith(f'CREATE TABLE "{where[name]}"."{name}__staging" (')
        assert "DISTSTYLE" in create
        assert copy == (
            f'COPY "{where[name]}"."{name}__staging"\n'
            f"FROM 's3://{GOLD_BUCKET}/_manifests/{name}.manifest'\n"
            f"IAM_ROLE '{COPY_ROLE}'\nFORMAT AS PARQUET\nMANIFEST"
        )
        manifest = json.loads(
            s3.get_object(Bucket=GOLD_BUCKET, Key=f"_manifests/{name}.manifest")["Body"].read()
        )
        listed = s3.list_objects_v2(Bucket=GOLD_BUCKET, Prefix=f"_export/{name}/")["Contents"]
        assert manifest["entries"] == [
            {
                "url": f"s3://{GOLD_BUCKET}/{o['Key']}",
                "mandatory": True,
                "meta": {"content_length": o["Size"]},
            }
            for o in sorted(listed, key=lambda o: o["Key"])
            if o["Key"].endswith(".parquet")  # not the figures next to them
        ]

    figures_sql = calls[len(tables)].params["Sql"]
    assert figures_sql == warehouse_sql.figures_query(
        [warehouse_sql.table_defs()[n] for n in tables], schema, staging=True
    )
    swap = calls[-1].params["Sqls"]  # one batch = one transaction
    assert swap == [
        warehouse_sql.swap_procedure(schema),
        f'CALL "{schema}"."lakehouse_swap"(\'{",".join(n for n in tables if n != "user_pii")}\')',
        f'DROP TABLE IF EXISTS "{restricted}"."user_pii"',
        f'ALTER TABLE "{restricted}"."user_pii__staging" RENAME TO "user_pii"',
    ]
    for name in tables:  # live after the swap: every row the COPY read, nothing else
        live = f'"{where[name]}"."{name}"'
        assert copied.rows(live) == copied.rows_in_files(name) == report.tables[name]["rows"]


def test_a_copy_that_lost_rows_blocks_the_swap(aws, moto):
    profile, s3 = aws
    copied = CopiedWarehouse(s3, lose_rows={"fact_transactions": 1}).install()
    with pytest.raises(warehouse.ValidationFailed, match=r"fact_transactions\.rows: staging"):
        warehouse.load(profile, backend=backend(profile))
    sent = [c for c in moto.calls() if c.action.endswith("ExecuteStatement")]
    assert sent[-1].action == "ExecuteStatement"  # the validation query, then nothing
    assert not any("lakehouse_swap" in s for c in sent for s in c.params.get("Sqls", []))
    schema = profile.warehouse.schema_name
    staged = copied.tables(schema) | copied.tables(warehouse_sql.restricted_schema(schema))
    assert staged == {f"{n}__staging" for n in warehouse_sql.table_defs()}


def test_validate_reads_the_live_tables(aws, moto):
    profile, s3 = aws
    CopiedWarehouse(s3).install()
    warehouse.load(profile, backend=backend(profile))
    moto.forget_requests()
    result = warehouse.validate(profile, backend=backend(profile))
    assert len(result["tables"]) == len(warehouse_sql.table_defs())
    (call,) = [c for c in moto.calls() if c.action == "ExecuteStatement"]
    assert '__staging"' not in call.params["Sql"]
    assert 'FROM "analytics"."fact_transactions"' in call.params["Sql"]


def test_45_tables_swap_in_one_data_api_batch(aws_no_gold, moto):
    """Two statements per table (the swap before) would be 90 in one batch, which the Data API
    refuses (more than 40); the procedure's CALL swaps all 45 in one batch of two."""
    profile, s3 = aws_no_gold
    copied = CopiedWarehouse(s3).install()
    schema = profile.warehouse.schema_name
    names = [f"t{i:02d}" for i in range(1, 46)]
    copied.db.execute(f'CREATE SCHEMA "{schema}"')
    for name in names:
        copied.db.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT \'old\' AS v')
        copied.db.execute(f'CREATE TABLE "{schema}"."{name}__staging" AS SELECT \'new\' AS v')
    template = warehouse_sql.table_defs()["daily_event_counts"]
    defs = [template.model_copy(update={"name": n}) for n in names]
    backend(profile).execute(warehouse_sql.swap(defs, schema, "redshift"))

    (batch,) = [c for c in moto.calls() if c.action == "BatchExecuteStatement"]
    assert len(batch.params["Sqls"]) == 2
    assert batch.params["SecretArn"] == SECRET  # the loader's, not the admin's
    assert copied.tables(schema) == set(names)
    for name in names:
        assert copied.db.execute(f'SELECT v FROM "{schema}"."{name}"').fetchall() == [("new",)]


def test_more_statements_than_a_batch_takes_are_refused_not_split(aws_no_gold, moto):
    profile, _ = aws_no_gold
    statements = [f"SELECT {i}" for i in range(warehouse_sql.DATA_API_MAX_STATEMENTS + 1)]
    with pytest.raises(warehouse.WarehouseError, match="at most 40 per BatchExecuteStatement"):
        backend(profile).execute(statements)
    assert moto.calls() == []
