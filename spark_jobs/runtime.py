"""The one module that knows whether a job runs on AWS Glue or on plain Spark.

On Glue (`awsglue` importable) arguments come from `getResolvedOptions` and the session from
`GlueContext`; elsewhere from argparse and a plain SparkSession. Job scripts call `start_job`
and `finish_job` and never branch on the platform themselves.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from spark_jobs.conf import DELTA_CONF

try:  # pragma: no cover - only present on AWS Glue
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions

    ON_GLUE = True
except ImportError:
    ON_GLUE = False


@dataclass
class JobContext:
    spark: SparkSession
    args: dict[str, str]
    _glue_job: Any = None


def build_session(app_name: str, conf: dict[str, str] | None = None) -> SparkSession:
    """A plain SparkSession with Delta enabled; launch-time confs (spark-submit) still apply."""
    builder = SparkSession.builder.appName(app_name)
    for key, value in {**DELTA_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def start_job(app_name: str, arg_names: list[str], argv: list[str] | None = None) -> JobContext:
    argv = sys.argv if argv is None else argv
    if ON_GLUE:  # pragma: no cover - exercised on AWS Glue only
        from pyspark.context import SparkContext

        args = getResolvedOptions(argv, ["JOB_NAME", *arg_names])
        glue = GlueContext(SparkContext.getOrCreate())
        job = Job(glue)
        job.init(args["JOB_NAME"], args)
        return JobContext(glue.spark_session, args, job)
    return JobContext(build_session(app_name), parse_args(app_name, arg_names, argv))


def parse_args(app_name: str, arg_names: list[str], argv: list[str]) -> dict[str, str]:
    """The job's arguments from a Glue-style argv (`script --JOB_NAME n --key value ...`), as
    getResolvedOptions returns them on Glue; Glue's own extra arguments (--JOB_ID,
    --job-bookmark-option, --TempDir, ...) are ignored the same way."""
    parser = argparse.ArgumentParser(prog=app_name)
    for name in arg_names:
        parser.add_argument(f"--{name}", required=True)
    known, _unknown = parser.parse_known_args(argv[1:])
    return vars(known)


def finish_job(ctx: JobContext) -> None:
    if ctx._glue_job is not None:  # pragma: no cover
        ctx._glue_job.commit()
    else:
        ctx.spark.stop()


def path_exists(spark: SparkSession, path: str) -> bool:
    """True if a file or folder exists at path (any Hadoop filesystem: s3a, file)."""
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(hpath))


def write_metrics(spark: SparkSession, path: str, metrics: dict) -> None:
    """One JSON document to the object store (a folder with one part file), and to the log."""
    import json

    text = json.dumps(metrics)
    spark.createDataFrame([(text,)], "value string").coalesce(1).write.mode("overwrite").text(path)
    print(text)


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """One small object written whole through the job's Hadoop filesystem (s3://, s3a://,
    file://), with no Spark job: a DataFrame write would cost a job and leave a folder."""
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    out = fs.create(target, True)
    try:
        out.write(bytearray(text.encode()))
    finally:
        out.close()


def is_delta(spark: SparkSession, path: str) -> bool:
    """True if a Delta table (a readable transaction log) is at path; an empty or leftover
    folder, which object stores and POSIX-backed S3 servers keep after deletes, is not one."""
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, path))


def secret_text(ref: str, what: str = "secret") -> str:
    """A secret read from where `ref` points, never passed in the job's arguments: `env:<VAR>`,
    an environment variable the local launcher sets from the profile; or the ARN of a Secrets
    Manager secret (on Glue), its SecretString."""
    import os

    if ref.startswith("env:"):
        var = ref.removeprefix("env:")
        if var not in os.environ:
            raise KeyError(f"{what} {ref!r}: the launcher did not set {var} for this job")
        return os.environ[var]
    if ref.startswith("arn:aws") and ":secretsmanager:" in ref:
        import boto3

        region = ref.split(":")[3]
        client = boto3.client("secretsmanager", region_name=region)
        return client.get_secret_value(SecretId=ref)["SecretString"]
    raise ValueError(f"{what} {ref!r}: expected env:<VARIABLE> or a Secrets Manager ARN")


def login(ref: str) -> tuple[str, str]:
    """A database login (user, password) from secret_text(ref): both places hold the same JSON
    document, {"username": ..., "password": ...}, the shape of RDS-managed secrets."""
    import json

    doc = json.loads(secret_text(ref, "login"))
    missing = [k for k in ("username", "password") if not doc.get(k)]
    if missing:
        raise KeyError(f"login {ref!r}: the secret has no {missing}")
    return doc["username"], doc["password"]
