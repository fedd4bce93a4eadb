"""`lakehouse deploy` (`make deploy-aws`): the aws profile's jobs and warehouse, applied with the
AWS APIs, idempotently.

0. The zone buckets and the artifacts bucket, created when missing (in the profile's region).
1. Artifacts to the profile's artifacts bucket: each job's entry script, the job library
   (`spark_jobs` as a deterministic zip for `--extra-py-files`) and the dataset registry. An
   object is written only when its sha256 (kept in the object's metadata) differs.
2. One Glue job per Spark job (`<job_prefix>-<job>`): created when missing, updated when a
   managed field differs (script, role, Glue version, workers, default arguments with
   `--datalake-formats delta` and the project's Spark/Delta confs), left alone otherwise.
   Glue job bookmarks are disabled: the incremental bookmark is the project's own.
3. The warehouse bootstrap (warehouse_sql/bootstrap/redshift.sql) through the Redshift Data
   API as one batch, when its text changed since the last deploy (a marker object records it).

`--dry-run` prints every call that would be made and makes none but reads. Credentials come
from the standard AWS chain; nothing secret is read or written here.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from lakehouse.backends import backends
from lakehouse.backends.spark import Glue
from lakehouse.config import Profile
from lakehouse.config.pipelines import SPARK_JOBS, load_pipelines
from lakehouse.paths import REPO_ROOT
from lakehouse.warehouse import sql as warehouse_sql


def jobs(profile: Profile) -> tuple[str, ...]:
    """The Spark jobs the profile's master DAG runs (db_to_bronze only with a source DB)."""
    return tuple(j for j in SPARK_JOBS if j != "db_to_bronze" or profile.source_db is not None)


ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same zip bytes


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    reason: str
    body: bytes | None = field(default=None, repr=False)

    def describe(self) -> str:
        shown = {k: v for k, v in self.params.items() if k != "Body"}
        size = f" ({len(self.body)} bytes)" if self.body is not None else ""
        params = json.dumps(shown, default=str)
        return f"{self.service}.{self.operation}{size} {params} # {self.reason}"


def _glue(profile: Profile) -> Glue:
    """The profile's Glue runner; any other runner refuses, naming its kind."""
    return backends(profile).spark.deploy_target()


def library_zip() -> bytes:
    """spark_jobs/ as a zip with fixed timestamps and sorted entries (reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((REPO_ROOT / "spark_jobs").rglob("*.py")):
            info = zipfile.ZipInfo(path.relative_to(REPO_ROOT).as_posix(), ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def artifacts(profile: Profile) -> dict[str, bytes]:
    prefix = _glue(profile).cfg.artifacts_prefix
    out = {
        f"{prefix}/jobs/{job}.py": (REPO_ROOT / "spark_jobs" / f"{job}.py").read_bytes()
        for job in jobs(profile)
    }
    out[f"{prefix}/lib/spark_jobs.zip"] = library_zip()
    out[f"{prefix}/config/datasets.yaml"] = (REPO_ROOT / "config" / "datasets.yaml").read_bytes()
    return out


def spark_confs(runner: Glue) -> str:
    """The `--conf` default argument: the session settings the Glue runner gives every job
    (Glue takes several as `k=v --conf k=v` in one value)."""
    return " --conf ".join(f"{k}={v}" for k, v in runner.conf().items())


def job_definition(profile: Profile, job: str) -> dict[str, Any]:
    runner = _glue(profile)
    glue = runner.cfg
    bucket, prefix = glue.artifacts_bucket, glue.artifacts_prefix
    return {
        "Description": f"lakehouse {job} (spark_jobs/{job}.py), deployed by `lakehouse deploy`",
        "Role": glue.iam_role,
        "Command": {
            "Name": "glueetl",
            "ScriptLocation": f"s3://{bucket}/{prefix}/jobs/{job}.py",
            "PythonVersion": "3",
        },
        "DefaultArguments": {
            "--datalake-formats": "delta",
            "--conf": spark_confs(runner),
            "--extra-py-files": f"s3://{bucket}/{prefix}/lib/spark_jobs.zip",
            "--job-language": "python",
            "--job-bookmark-option": "job-bookmark-disable",
            "--enable-metrics": "true",
            "--enable-continuous-cloudwatch-log": "true",
        },
        "ExecutionProperty": {"MaxConcurrentRuns": 1},
        **_connections(profile, job),
        "MaxRetries": 0,  # Airflow retries, with backoff (config/pipelines.yaml)
        # Inside the Airflow task's own execution timeout, so the run never outlives its task.
        "Timeout": runner.job_timeout_minutes(job, load_pipelines().execution_timeout_minutes(job)),
        "GlueVersion": glue.glue_version,
        "WorkerType": glue.worker_type,
        "NumberOfWorkers": glue.number_of_workers,
    }


def _glue_connection(profile: Profile) -> dict[str, Any] | None:
    """The Glue connection the operational DB is reached through, where it has one."""
    return profile.source_db.glue_connection() if profile.source_db is not None else None


def _connections(profile: Profile, job: str) -> dict[str, Any]:
    """The Glue connection db_to_bronze reaches the operational DB through, where it has one."""
    connection = _glue_connection(profile)
    if job != "db_to_bronze" or connection is None:
        return {}
    return {"Connections": {"Connections": [connection["Name"]]}}


def _connection_calls(profile: Profile, glue) -> list[Call]:
    """Create the operational DB's Glue connection, or update it where it drifted."""
    desired = _glue_connection(profile)
    if desired is None:
        return []
    try:
        current = glue.get_connection(Name=desired["Name"], HidePassword=True)["Connection"]
    except glue.exceptions.EntityNotFoundException:
        return [Call("glue", "create_connection", {"ConnectionInput": desired}, "new connection")]
    # What a deploy manages: where it connects and with which secret, through which network.
    managed = ("ConnectionProperties", "PhysicalConnectionRequirements")
    drift = [k for k in managed if current.get(k) != desired[k]]
    if not drift:
        return []
    params = {"Name": desired["Name"], "ConnectionInput": desired}
    return [Call("glue", "update_connection", params, f"changed: {drift}")]


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _not_found(exc: Exception) -> bool:
    """A ClientError that says the bucket or object does not exist (HEAD answers a bare 404)."""
    from botocore.exceptions import ClientError

    codes = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in codes


def _stored_sha(s3, bucket: str, key: str) -> str | None:
    try:
        # "" for an object written by something else (no recorded hash): it is replaced
        return s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256", "")
    except Exception as exc:
        if _not_found(exc):
            return None
        raise


def _put(bucket: str, key: str, body: bytes, reason: str) -> Call:
    params = {"Bucket": bucket, "Key": key, "Body": body, "Metadata": {"sha256": _sha(body)}}
    return Call("s3", "put_object", params, reason, body)


def bootstrap_batches(profile: Profile) -> list[dict[str, Any]]:
    """The Data API batches that create the warehouse's schema, roles and grants, with the
    admin secret, where the warehouse is reached through the Data API (Redshift); none
    elsewhere. At most DATA_API_MAX_STATEMENTS statements per batch: each batch is a
    transaction, and every bootstrap statement is idempotent (IF NOT EXISTS, GRANT), so a
    deploy stopped between batches is completed by the next one (the bootstrap is recorded as
    applied only after its last batch)."""
    target = backends(profile).warehouse
    api = target.data_api_target(admin=True)
    if api is None:
        return []
    statements = warehouse_sql.bootstrap(target.dialect, **target.bootstrap_names())
    size = warehouse_sql.DATA_API_MAX_STATEMENTS
    parts = [statements[i : i + size] for i in range(0, len(statements), size)]
    return [
        {**api, "Sqls": part, "StatementName": f"lakehouse-bootstrap-{n}"}
        for n, part in enumerate(parts, start=1)
    ]


def _bucket_missing(s3, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except Exception as exc:
        if _not_found(exc):
            return True
        raise  # 403: the bucket exists but is someone else's, or the role may not see it


def plan(profile: Profile, clients: dict) -> list[Call]:
    """The calls that bring AWS to the desired state (reads only)."""
    runner = _glue(profile)
    glue_cfg = runner.cfg
    s3, glue = clients["s3"], clients["glue"]
    bucket = glue_cfg.artifacts_bucket
    calls: list[Call] = []
    region = backends(profile).store.region
    for name in (bucket, *profile.bucket_names):
        if _bucket_missing(s3, name):
            params: dict[str, Any] = {"Bucket": name}
            if region and region != "us-east-1":  # us-east-1 refuses an explicit constraint
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            calls.append(Call("s3", "create_bucket", params, "new bucket"))
    for key, body in artifacts(profile).items():
        stored = _stored_sha(s3, bucket, key)
        if stored != _sha(body):
            calls.append(_put(bucket, key, body, "new" if stored is None else "changed"))
    calls += _connection_calls(profile, glue)
    for job in jobs(profile):
        name = runner.job_name(job)
        desired = job_definition(profile, job)
        try:
            current = glue.get_job(JobName=name)["Job"]
        except glue.exceptions.EntityNotFoundException:
            calls.append(Call("glue", "create_job", {"Name": name, **desired}, "new job"))
            continue
        drift = sorted(k for k, v in desired.items() if current.get(k) != v)
        if drift:
            calls.append(
                Call(
                    "glue",
                    "update_job",
                    {"JobName": name, "JobUpdate": desired},
                    f"changed: {drift}",
                )
            )
    batches = bootstrap_batches(profile)
    if batches:
        marker = f"{glue_cfg.artifacts_prefix}/deployed/redshift-bootstrap.sql"
        text = "".join(f"{s};\n" for batch in batches for s in batch["Sqls"]).encode()
        if _stored_sha(s3, bucket, marker) != _sha(text):
            changed = "warehouse bootstrap changed"
            for batch in batches:
                calls.append(Call("redshift-data", "batch_execute_statement", batch, changed))
            calls.append(_put(bucket, marker, text, "records the applied bootstrap"))
    return calls


def clients(profile: Profile) -> dict:
    import boto3

    region = backends(profile).store.region
    return {
        name: boto3.client(name, region_name=region) for name in ("s3", "glue", "redshift-data")
    }


def apply(calls: list[Call], clients: dict, poll_seconds: float = 2) -> None:
    import time

    for call in calls:
        response = getattr(clients[call.service], call.operation)(**call.params)
        if call.service == "redshift-data":  # the Data API is asynchronous: wait for the batch
            while True:
                state = clients[call.service].describe_statement(Id=response["Id"])
                if state["Status"] == "FINISHED":
                    break
                if state["Status"] in ("FAILED", "ABORTED"):
                    raise RuntimeError(
                        f"{call.describe()}: {state['Status']}: {state.get('Error')}"
                    )
                time.sleep(poll_seconds)


def deploy(profile: Profile, dry_run: bool = False, clients_: dict | None = None) -> list[Call]:
    clients_ = clients_ or clients(profile)
    calls = plan(profile, clients_)
    if not dry_run:
        apply(calls, clients_)
    return calls
