"""The object store, side by side: S3 (Amazon S3, or a local S3 server at an endpoint) and
plain files (the embedded profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakehouse.backends.base import AWS_CONN_ID, FS_CONN_ID, StoreBackend
from lakehouse.config import FilesystemStore, S3Store

SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"


class S3(StoreBackend):
    def __init__(self, cfg: S3Store) -> None:
        self.cfg = cfg
        self.region = cfg.region
        # No endpoint is AWS's own; an endpoint is a server the native stack runs (versitygw,
        # MinIO) or one the user points at.
        self.native_service = "s3" if cfg.endpoint_url else None

    def client(self):
        from lakehouse.backends.storage import S3ObjectStore

        return S3ObjectStore(self.cfg)

    def airflow_connections(self) -> dict[str, dict[str, Any]]:
        extra: dict[str, Any] = {"region_name": self.cfg.region}
        if self.cfg.endpoint_url:
            extra["endpoint_url"] = self.cfg.endpoint_url
        conn: dict[str, Any] = {"conn_type": "aws", "extra": extra}
        if self.cfg.access_key_id:
            conn["login"] = self.cfg.access_key_id
            conn["password"] = self.cfg.secret_access_key
        return {AWS_CONN_ID: conn}

    def spark_conf(self) -> dict[str, str]:
        cfg = self.cfg
        conf = {
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.endpoint.region": cfg.region,
            # Keep directory markers: deleting parent markers after each write is wasted
            # requests on S3 and, on POSIX-backed servers (versitygw), fails on non-empty
            # directories and stalls S3A's async cleanup.
            "spark.hadoop.fs.s3a.directory.marker.retention": "keep",
        }
        if cfg.endpoint_url:
            conf["spark.hadoop.fs.s3a.endpoint"] = cfg.endpoint_url
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
                cfg.endpoint_url.startswith("https")
            ).lower()
        if cfg.access_key_id:
            conf.update(
                {
                    "spark.hadoop.fs.s3a.aws.credentials.provider": SIMPLE_CREDENTIALS,
                    "spark.hadoop.fs.s3a.access.key": cfg.access_key_id,
                    "spark.hadoop.fs.s3a.secret.key": cfg.secret_access_key or "",
                }
            )
        return conf

    def arrow_filesystem(self) -> tuple[Any, str]:
        import pyarrow.fs as pafs

        scheme, endpoint = "https", None
        if self.cfg.endpoint_url:
            scheme, _, endpoint = self.cfg.endpoint_url.partition("://")
        fs = pafs.S3FileSystem(
            access_key=self.cfg.access_key_id,
            secret_key=self.cfg.secret_access_key,
            region=self.cfg.region,
            endpoint_override=endpoint,
            scheme=scheme,
        )
        return fs, ""

    def file_sensor(self, bucket: str, prefix: str, **sensor_args: Any):
        from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

        return S3KeySensor(
            bucket_name=bucket,
            bucket_key=f"{prefix}/*",
            wildcard_match=True,
            aws_conn_id=AWS_CONN_ID,
            **sensor_args,
        )

    def console_url(self, bucket: str, key: str) -> str | None:
        if self.cfg.endpoint_url:
            return None
        from urllib.parse import quote

        region = self.cfg.region
        return (
            f"https://{region}.console.aws.amazon.com/s3/object/{bucket}"
            f"?region={region}&prefix={quote(key, safe='')}"
        )


class Filesystem(StoreBackend):
    def __init__(self, cfg: FilesystemStore) -> None:
        self.cfg = cfg

    def client(self):
        from lakehouse.backends.storage import FilesystemObjectStore

        return FilesystemObjectStore(self.cfg)

    def airflow_connections(self) -> dict[str, dict[str, Any]]:
        return {FS_CONN_ID: {"conn_type": "fs", "extra": {"path": "/"}}}

    def spark_conf(self) -> dict[str, str]:
        return {}  # Spark reads file:// with no settings

    def arrow_filesystem(self) -> tuple[Any, str]:
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem(), str(self.cfg.root_path) + "/"

    def file_sensor(self, bucket: str, prefix: str, **sensor_args: Any):
        from airflow.providers.standard.sensors.filesystem import FileSensor

        return FileSensor(
            filepath=str(Path(self.cfg.root_path) / bucket / prefix / "*"),
            fs_conn_id=FS_CONN_ID,
            recursive=True,
            **sensor_args,
        )
