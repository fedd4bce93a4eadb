"""The native S3 server: versitygw (Apache-2.0, POSIX backend) built from the Go module proxy
at a pinned version, its command line on loopback, and its health check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from lakehouse.config import S3Store
from lakehouse.paths import stack_dir
from lakehouse.platform import ServiceError

VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION = "v1.8.0"


def versitygw_command(store: S3Store, port: int, root: Path) -> list[str]:
    """versitygw serving `root` (one directory per bucket) on 127.0.0.1:`port`."""
    return [
        str(versitygw_binary()),
        "--port",
        f"127.0.0.1:{port}",
        "--access",
        store.access_key_id or "",
        "--secret",
        store.secret_access_key or "",
        "--region",
        store.region,
        "--health",
        "/health",
        "posix",
        str(root),
    ]


def s3_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def versitygw_binary() -> Path:
    """The S3 server binary, built from the Go module proxy on first use (pinned version)."""
    bindir = stack_dir() / "bin"
    binary = bindir / "versitygw"
    stamp = bindir / "versitygw.version"
    if binary.is_file() and stamp.is_file() and stamp.read_text().strip() == VERSITYGW_VERSION:
        return binary
    if shutil.which("go") is None:
        raise ServiceError(
            "Go toolchain not found: it is needed to build the S3 server (versitygw)"
        )
    bindir.mkdir(parents=True, exist_ok=True)
    print(f"building {VERSITYGW_MODULE}@{VERSITYGW_VERSION} (first run only)", file=sys.stderr)
    subprocess.run(
        ["go", "install", f"{VERSITYGW_MODULE}@{VERSITYGW_VERSION}"],
        env={**os.environ, "GOBIN": str(bindir), "CGO_ENABLED": "0"},
        check=True,
    )
    stamp.write_text(VERSITYGW_VERSION)
    return binary
