"""Spark settings sized for a small machine, in one place: the jars, the task counts, and the
in-process `local[n]` session of the tests and the benchmarks. A profile's jobs get theirs from
its Spark runner (lakehouse/backends/spark.py), built on these.

No pyspark import: the DAG file reads it at parse time.
"""

from __future__ import annotations

from lakehouse.config.versions import missing_jars, runtime
from spark_jobs.conf import DELTA_CONF

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
