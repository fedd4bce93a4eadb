"""Spark configuration in one place: for a profile's jobs (Delta, S3A endpoint, the cluster's
parallelism) and for an in-process local session (the tests, the benchmarks).

The launchers (SparkSubmitOperator, the test fixtures, the benchmarks) pass this; job scripts
never read it. No pyspark import: the DAG file reads it at parse time.
"""

from __future__ import annotations

from lakehouse.config import Profile, S3Store, SparkCluster
from lakehouse.versions import missing_jars, runtime
from spark_jobs.conf import DELTA_CONF

SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
CLUSTER_CORES = 2  # what one application may take of the local cluster (or the embedded local[2])


def jar_paths() -> list[str]:
    missing = missing_jars()
    if missing:
        raise FileNotFoundError(f"Spark jars missing: {[str(p) for p in missing]}; run `make jars`")
    return [str(p) for p in runtime().jar_files()]


def parallelism(cores: int, shuffle_partitions: int | None = None) -> dict[str, str]:
    """Task counts sized to a small machine: Spark's defaults (200 shuffle partitions, Delta's
    50 snapshot partitions) are pure scheduling overhead on a few cores."""
    return {
        "spark.sql.shuffle.partitions": str(shuffle_partitions or 4 * cores),
        # Delta rebuilds a table's state with this many tasks at every snapshot.
        "spark.databricks.delta.snapshotPartitions": str(cores),
    }


def local_session_conf(
    cores: int, driver_memory: str | None = None, shuffle_partitions: int | None = None
) -> dict[str, str]:
    """An in-process `local[cores]` SparkSession with Delta and the project's jars, bound to
    loopback (the tests, the benchmarks); pass it to `spark_jobs.runtime.build_session`."""
    conf = {
        **DELTA_CONF,
        **parallelism(cores, shuffle_partitions),
        "spark.master": f"local[{cores}]",
        "spark.jars": ",".join(jar_paths()),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }
    if driver_memory:
        conf["spark.driver.memory"] = driver_memory
    return conf


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
                "spark.cores.max": str(CLUSTER_CORES),
                **parallelism(CLUSTER_CORES),
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
