"""Shared fixtures. Markers come from the folder: tests/unit, tests/integration,
tests/reliability, tests/e2e, tests/compose."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from lakehouse.config import Profile, load_profile
from lakehouse.config.versions import missing_jars
from lakehouse.paths import stack_dir
from lakehouse.platform.services import Stack

# py4j logs its shutdown after pytest has closed the capture streams; keep that quiet.
logging.getLogger("py4j").setLevel(logging.WARNING)

# In-process Airflow imports (DAG integrity tests) get a throwaway home, never ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(stack_dir() / "test-airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if group in ("unit", "integration", "reliability", "e2e", "compose"):
            item.add_marker(getattr(pytest.mark, group))


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession with Delta for the whole run; 1 shuffle partition keeps it fast."""
    missing = missing_jars()
    if missing:
        pytest.fail(f"Spark jars missing ({[p.name for p in missing]}): run `make jars`")
    from lakehouse.backends.spark_conf import local_session_conf
    from spark_jobs.runtime import build_session

    conf = local_session_conf(cores=1)
    conf.update({"spark.default.parallelism": "1", "spark.ui.enabled": "false"})
    session = build_session("lakehouse-tests", conf)
    yield session
    session.stop()


# ----------------------------------------------------------------------------- services
def require_services(profile: Profile, names: list[str]) -> None:
    status = Stack(profile).status()
    down = {n: s for n, s in status.items() if n in names and not s.startswith("healthy")}
    if down:
        pytest.fail(
            f"services not running for profile {profile.name}: {down}. Start them with "
            f"`make services-up` (or `.venv/bin/lakehouse services start`)."
        )


@pytest.fixture(scope="session")
def local_profile() -> Profile:
    return load_profile("local")


@pytest.fixture(scope="session")
def s3_profile(local_profile: Profile) -> Profile:
    require_services(local_profile, ["s3"])
    return local_profile


@pytest.fixture(scope="session")
def airflow_profile(local_profile: Profile) -> Profile:
    require_services(local_profile, ["airflow-api-server"])
    return local_profile


@pytest.fixture(scope="session")
def pg_profile(local_profile: Profile) -> Profile:
    require_services(local_profile, ["postgres"])
    return local_profile


@pytest.fixture(scope="session")
def s3_spark(s3_profile, spark):
    """The test SparkSession pointed at the S3 server with the profile's S3A settings.

    S3A reads its settings per filesystem instance, so they are set on the running context's
    Hadoop configuration rather than at session start.
    """
    from lakehouse.backends import backends

    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in backends(s3_profile).store.spark_conf().items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key.removeprefix("spark.hadoop."), value)
    return spark
