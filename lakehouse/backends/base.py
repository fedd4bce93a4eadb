"""What each role of the platform must answer, whatever runs it.

A profile names one implementation per role (`object_store.kind`, `spark.kind`,
`warehouse.kind`); `lakehouse.backends.backends(profile)` builds them once, and the rest of the
code asks them instead of testing the profile's types. A new platform for a role (say, EMR
Serverless as Spark runner) is one new class here plus one line in the factory.

Nothing heavy is imported at module level: the DAG file builds its tasks through these objects
at every parse, where pyspark, pyarrow and psycopg2 have no business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import timedelta

    from lakehouse.backends.storage import ObjectStore

# The Airflow connections the tasks use; the services set them from the profile
# (AIRFLOW_CONN_* variables, lakehouse/platform/airflow_env.py), so no UI step is needed.
SPARK_CONN_ID = "lakehouse_spark"
WAREHOUSE_CONN_ID = "lakehouse_warehouse"
AWS_CONN_ID = "lakehouse_aws"
FS_CONN_ID = "lakehouse_fs"


class Role(ABC):
    #: the profile's section this backend was built from
    cfg: Any
    #: the native service (lakehouse/platform/services.py) this backend needs on a laptop, if any
    native_service: str | None = None

    def airflow_connections(self) -> dict[str, dict[str, Any]]:
        """Connection id -> the connection (as AIRFLOW_CONN_* JSON) this backend's tasks use."""
        return {}


class StoreBackend(Role):
    """The object store holding every zone: S3 (AWS, MinIO, versitygw) or plain files."""

    #: the AWS region the store is in (None: not on AWS's network)
    region: str | None = None

    @abstractmethod
    def client(self) -> ObjectStore:
        """Object access for the tasks that are not Spark (ingestion, warehouse, metrics)."""

    @abstractmethod
    def spark_conf(self) -> dict[str, str]:
        """The Spark settings that reach this store from a Spark cluster."""

    @abstractmethod
    def arrow_filesystem(self) -> tuple[Any, str]:
        """A pyarrow filesystem over the store and the prefix that turns `bucket/key` into its
        path."""

    @abstractmethod
    def file_sensor(self, bucket: str, prefix: str, **sensor_args: Any):
        """An Airflow sensor waiting for any object under `bucket/prefix/` (`sensor_args`: the
        task id, deferral, timeout and the rest, as BaseSensorOperator takes them)."""

    def console_url(self, bucket: str, key: str) -> str | None:
        """Where a browser opens an object when no local server serves it (AWS's console)."""
        return None


class SparkRunner(Role):
    """Where the job scripts of spark_jobs/ run: spark-submit on a Spark master, or AWS Glue."""

    @abstractmethod
    def conf(self) -> dict[str, str]:
        """The Spark settings every job gets from its launcher (spark-submit's confs, Glue's
        `--conf` job argument)."""

    @abstractmethod
    def operator_class(self) -> type:
        """The Airflow operator that runs a job script on this platform."""

    @abstractmethod
    def operator_args(
        self,
        task_id: str,
        script: str,
        args: dict[str, str],
        env: dict[str, str] | None = None,
        timeout: timedelta | None = None,
    ) -> dict[str, Any]:
        """Its arguments for running `spark_jobs/<script>` with `--name value` arguments
        (`env`: variables for the job, where the platform can pass them; `timeout`: the task's
        execution timeout, which a remote run's own limits are set inside)."""

    def preflight_problems(self) -> list[str]:
        """What is missing on this machine for a job to start (the master DAG's first task)."""
        return []

    def deploy_target(self):
        """The runner `lakehouse deploy` deploys the jobs for (only Glue's are deployed)."""
        raise ValueError(f"{self.describe()}: deploy needs spark.kind=glue (the aws profile)")

    @abstractmethod
    def describe(self) -> str: ...


class WarehouseBackend(Role):
    """The warehouse GOLD is loaded into: PostgreSQL (local) or Redshift Serverless (aws)."""

    #: the SQL dialect, which picks the loader (lakehouse/warehouse/)
    dialect: str

    @abstractmethod
    def bootstrap_names(self) -> dict[str, str]:
        """The schema, roles (and database) the bootstrap SQL creates and grants."""

    def airflow_metadata_url(self, database: str) -> str | None:
        """A SQLAlchemy URL for Airflow's metadata DB on the same server, when it can host it."""
        return None

    def data_api_target(self, admin: bool = False) -> dict[str, str] | None:
        """Workgroup, database and secret (the loader's, or with `admin` the one `lakehouse
        deploy` applies the bootstrap with) of the Redshift Data API; None where the native
        services bootstrap the warehouse."""
        return None
