"""Object-store access for the non-Spark tasks (ingestion, warehouse load, metrics).

boto3 for anything that speaks S3 (versitygw, MinIO, Amazon S3) and plain files for the
embedded profile, behind the handful of operations the pipeline needs. fsspec would cover
both, but its s3fs backend pins aiobotocore to narrow botocore ranges that fight the Amazon
provider's boto3, so this thin adapter is kept by hand.

Objects of any size pass through an Airflow worker in bounded memory: `open` streams, `tail`
reads the end only (a Parquet footer), `copy` is S3's managed transfer (a server-side copy,
multipart past `COPY_PART_BYTES`, so no 5 GB single-copy ceiling), and `digest` hashes a stream.
`get` and `put` are for small documents (ingestion log records, metrics, reports).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from lakehouse.config import FilesystemStore, Profile, S3Store


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime | None = None


class MissingObject(KeyError):
    """The object is not there (any more): another run may have taken it."""


class ObjectStore(Protocol):
    def ensure_bucket(self, bucket: str) -> None: ...
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def get(self, bucket: str, key: str) -> bytes: ...
    def put(self, bucket: str, key: str, data: bytes) -> None: ...
    def delete(self, bucket: str, key: str) -> None: ...
    def exists(self, bucket: str, key: str) -> bool: ...
    def open(self, bucket: str, key: str) -> BinaryIO: ...
    def tail(self, bucket: str, key: str, size: int) -> bytes: ...
    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None: ...


CHUNK_BYTES = 1 << 20  # one read of a streamed object
COPY_PART_BYTES = 64 << 20  # S3 copies past this go part by part (UploadPartCopy)
COPY_THREADS = 4
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(store: ObjectStore, bucket: str, key: str) -> tuple[int, str]:
    """(size, sha256) of an object, streamed: memory stays at one chunk whatever its size."""
    h, size = hashlib.sha256(), 0
    with store.open(bucket, key) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


class S3ObjectStore:
    def __init__(self, cfg: S3Store) -> None:
        self.client = boto3.client(
            "s3",
            endpoint_url=cfg.endpoint_url,
            region_name=cfg.region,
            aws_access_key_id=cfg.access_key_id,
            aws_secret_access_key=cfg.secret_access_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                # S3-compatible servers differ on the newer default checksum headers.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def ensure_bucket(self, bucket: str) -> None:
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError:
            self.client.create_bucket(Bucket=bucket)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    yield ObjectInfo(obj["Key"], obj["Size"], obj.get("LastModified"))

    def _get_object(self, bucket: str, key: str, **kwargs):
        try:
            return self.client.get_object(Bucket=bucket, Key=key, **kwargs)["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NOT_FOUND:
                raise MissingObject(f"s3://{bucket}/{key}") from exc
            raise

    def get(self, bucket: str, key: str) -> bytes:
        return self._get_object(bucket, key).read()

    def open(self, bucket: str, key: str) -> BinaryIO:
        return self._get_object(bucket, key)

    def tail(self, bucket: str, key: str, size: int) -> bytes:
        return self._get_object(bucket, key, Range=f"bytes=-{size}").read()

    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None:
        # A server-side copy moves no bytes through this process; a few parts in flight are
        # enough, and each thread costs a stack in a worker's memory.
        config = TransferConfig(
            multipart_threshold=COPY_PART_BYTES,
            multipart_chunksize=COPY_PART_BYTES,
            max_concurrency=COPY_THREADS,
        )
        try:
            self.client.copy({"Bucket": bucket, "Key": key}, to_bucket, to_key, Config=config)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NOT_FOUND:
                raise MissingObject(f"s3://{bucket}/{key}") from exc
            raise

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _NOT_FOUND:
                return False
            raise


class FilesystemObjectStore:
    """Buckets are directories under root; keys are relative paths (same layout as S3)."""

    def __init__(self, cfg: FilesystemStore) -> None:
        self.root = cfg.root_path

    def _path(self, bucket: str, key: str) -> Path:
        path = (self.root / bucket / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key {key!r} escapes the store root")
        return path

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root / bucket
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix) and not path.name.startswith(".tmp-"):
                stat = path.stat()
                yield ObjectInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def get(self, bucket: str, key: str) -> bytes:
        with self.open(bucket, key) as f:
            return f.read()

    def open(self, bucket: str, key: str) -> BinaryIO:
        try:
            return self._path(bucket, key).open("rb")
        except FileNotFoundError as exc:
            raise MissingObject(f"{bucket}/{key}") from exc

    def tail(self, bucket: str, key: str, size: int) -> bytes:
        with self.open(bucket, key) as f:
            f.seek(max(0, f.seek(0, 2) - size))
            return f.read()

    def _replace(self, bucket: str, key: str, write) -> None:
        """Write through a temporary file renamed into place: atomic, like an S3 PUT, so
        readers never see half a file."""
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}")
        write(tmp)
        tmp.replace(path)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._replace(bucket, key, lambda tmp: tmp.write_bytes(data))

    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None:
        source = self._path(bucket, key)
        if not source.is_file():
            raise MissingObject(f"{bucket}/{key}")
        self._replace(to_bucket, to_key, lambda tmp: shutil.copyfile(source, tmp))

    def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)

    def exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).is_file()


def object_store(profile: Profile) -> ObjectStore:
    """The profile's object store (its store backend's client)."""
    from lakehouse.backends import backends

    return backends(profile).store.client()
