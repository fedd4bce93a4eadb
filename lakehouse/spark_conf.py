"""Spark configuration for a profile, in one place: Delta, S3A endpoint and the local jars.

The launchers (SparkSubmitOperator, the test fixtures) pass this; job scripts never read it.
"""

from __future__ import annotations

from lakehouse.config import Profile, S3Store, SparkCluster
from lakehouse.versions import missing_jars, runtime
from spark_jobs.runtime import DELTA_CONF

SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"


def jar_paths() -> list[str]:
    missing = missing_jars()
    if missing:
        raise FileNotFoundError(f"Spark jars missing: {[str(p) for p in missing]}; run `make jars`")
    return [str(p) for p in runtime().jar_files()]


def spark_conf(profile: Profile) -> dict[str, str]:
    conf = dict(DELTA_CONF)
    conf["spark.ui.showConsoleProgress"] = "false"
    spark = profile.spark
    if isinstance(spark, SparkCluster):
        conf.update(
            {
                "spark.driver.memory": spark.driver_memory,
                "spark.executor.memory": spark.executor_memory,
                "spark.executor.cores": str(spark.executor_cores),
                "spark.cores.max": "2",
                "spark.sql.shuffle.partitions": "8",
                # Delta rebuilds table state with 50 tasks by default: pure overhead on 2 cores.
                "spark.databricks.delta.snapshotPartitions": "2",
            }
        )
    store = profile.object_store
    if isinstance(store, S3Store):
        conf.update(
            {
                "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.endpoint.region": store.region,
                # Keep directory markers: deleting parent markers after each write is wasted
                # requests on S3 and, on POSIX-backed servers (versitygw), fails on non-empty
                # directories and stalls S3A's async cleanup.
                "spark.hadoop.fs.s3a.directory.marker.retention": "keep",
            }
        )
        if store.endpoint_url:
            conf["spark.hadoop.fs.s3a.endpoint"] = store.endpoint_url
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
                store.endpoint_url.startswith("https")
            ).lower()
        if store.access_key_id:
            conf.update(
                {
                    "spark.hadoop.fs.s3a.aws.credentials.provider": SIMPLE_CREDENTIALS,
                    "spark.hadoop.fs.s3a.access.key": store.access_key_id,
                    "spark.hadoop.fs.s3a.secret.key": store.secret_access_key or "",
                }
            )
    return conf
