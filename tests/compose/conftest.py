"""The Compose stack for tests/compose: brought up once per session with `make up` from
nothing (its own Compose project, so a laptop's own stack and volumes are left alone) and
removed with its volumes at the end. Host-side tools reach it through the published ports with
the `local` profile, as the README says users do."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from lakehouse.config import load_profile

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "lakehouse-test"
UP_TIMEOUT_S = 1800  # a first `make up` builds the images


def compose_env() -> dict[str, str]:
    """The environment of every make/docker call: this test project; the S3 server, base images
    and settings as the caller's environment gives them (CI: versitygw and the stand-ins)."""
    return {**os.environ, "COMPOSE_PROJECT_NAME": PROJECT, "LAKEHOUSE_MASTER_SCHEDULE": "none"}


def make_command(*args: str) -> list[str]:
    """`make <args> STACK=compose` with the caller's S3 server (CI: versitygw)."""
    s3 = os.environ.get("S3_SERVER", "minio")
    return ["make", "--no-print-directory", *args, "STACK=compose", f"S3_SERVER={s3}"]


def make(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """A make target in the project, output captured; raises with it on failure."""
    proc = subprocess.run(
        make_command(*args),
        cwd=ROOT,
        env=compose_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode:
        raise AssertionError(
            f"make {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def compose(*args: str, timeout: float = 300) -> str:
    """`docker compose` with the stack's files, for what make has no target for."""
    files = ["-f", "docker-compose.yml"]
    if os.environ.get("S3_SERVER") == "versitygw":
        files += ["-f", "docker/compose.versitygw.yml"]
    proc = subprocess.run(
        ["docker", "compose", *files, *args],
        cwd=ROOT,
        env=compose_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode:
        raise AssertionError(f"docker compose {' '.join(args)}: {proc.stderr[-4000:]}")
    return proc.stdout


def stand_ins() -> list[str]:
    """The base images this run replaced with stand-ins (docker/standins), for the report."""
    return sorted(
        f"{k}={v}"
        for k, v in os.environ.items()
        if k.endswith("_IMAGE") and "lakehouse-standin/" in v
    )


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def profile():
    return load_profile("local")


@pytest.fixture(scope="session")
def stack(profile):
    """`make up` from nothing, timed; the stack and its volumes removed afterwards (the logs
    kept in .stack/compose/test-logs.txt when a test failed)."""
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode:
        pytest.fail("no Docker engine answers (docker info): the compose group needs one")
    ports = {
        "S3": int(profile.object_store.endpoint_url.rsplit(":", 1)[1]),
        "PostgreSQL": profile.warehouse.port,
        "Airflow": profile.airflow.api_port,
    }
    taken = [f"{name} {port}" for name, port in ports.items() if _port_taken(port)]
    if taken:
        pytest.fail(
            f"ports the Compose stack publishes are in use ({', '.join(taken)}): stop "
            "the native services first (make services-down)"
        )
    compose("down", "--volumes", "--remove-orphans")
    started = time.monotonic()
    try:
        make("up", timeout=UP_TIMEOUT_S)
        took = time.monotonic() - started
        print(
            f"\ncompose: make up, from nothing to every service healthy: {took:.0f}s; "
            f"stand-in base images: {', '.join(stand_ins()) or 'none (upstream images)'}"
        )
        yield {"up_seconds": took}
    finally:
        logs = ROOT / ".stack" / "compose" / "test-logs.txt"
        logs.parent.mkdir(parents=True, exist_ok=True)
        try:
            logs.write_text(compose("logs", "--no-color", "--tail", "300"))
        finally:
            compose("down", "--volumes", "--remove-orphans")
