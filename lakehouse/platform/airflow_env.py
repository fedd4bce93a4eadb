"""The environment every Airflow component (and the CLI) runs with, derived from the profile.

Connections are handed over as AIRFLOW_CONN_* variables so that no UI step is needed and the
profile stays the single source of truth.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from lakehouse.backends.base import AWS_CONN_ID, FS_CONN_ID, SPARK_CONN_ID, WAREHOUSE_CONN_ID
from lakehouse.config import Profile
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.paths import REPO_ROOT, stack_dir

__all__ = ["AWS_CONN_ID", "FS_CONN_ID", "MASTER_DAG_ID", "SPARK_CONN_ID", "WAREHOUSE_CONN_ID"]
# Seconds between the scheduler's checks for tasks orphaned by a scheduler that died (native
# services and Compose alike; Airflow's default is 300).
ORPHAN_CHECK_SECONDS = "30"


def profile_state_dir(profile: Profile) -> Path:
    return stack_dir() / profile.name


def airflow_home(profile: Profile) -> Path:
    return profile_state_dir(profile) / "airflow"


def java_home() -> str:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    for candidate in sorted(Path("/usr/lib/jvm").glob("java-17-openjdk*")):
        return str(candidate)
    raise RuntimeError(
        "JDK 17 not found: set JAVA_HOME (Debian: apt-get install openjdk-17-jdk-headless)"
    )


def _jwt_secret(home: Path) -> str:
    # All components must share one signing secret or task runners cannot call the execution API.
    path = home / "jwt_secret"
    if not path.is_file():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def set_password(path: Path, user: str, password: str) -> bool:
    """Set user's password in the simple auth manager's JSON passwords file (which Airflow
    fills with a random password for any configured user missing from it); True if the file
    changed. Other users' passwords are kept; the file is private to its owner."""
    passwords: dict[str, str] = {}
    if path.is_file() and path.read_text().strip():
        passwords = json.loads(path.read_text())
    if passwords.get(user) == password:
        return False
    passwords[user] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords) + "\n")
    path.chmod(0o600)
    return True


def _passwords_file(profile: Profile, home: Path) -> Path:
    path = home / "simple_auth_manager_passwords.json"
    if not profile.airflow.admin_password:
        raise ValueError(
            f"profile {profile.name}: airflow.admin_password is empty; set "
            "LAKEHOUSE_AIRFLOW_ADMIN_PASSWORD (see .env.example)"
        )
    set_password(path, profile.airflow.admin_user, profile.airflow.admin_password)
    return path


def airflow_environment(profile: Profile) -> dict[str, str]:
    """The full process environment for Airflow components (and its CLI) under this profile."""
    env = dict(os.environ)
    env["LAKEHOUSE_PROFILE"] = profile.name
    if profile.airflow.settings_from == "profile":
        env.update(_airflow_settings(profile, env.get("PATH", "")))
    env.update(airflow_connections(profile))
    return env


def _airflow_settings(profile: Profile, path: str) -> dict[str, str]:
    home = airflow_home(profile)
    venv_bin = str(Path(sys.executable).parent)
    api = f"http://127.0.0.1:{profile.airflow.api_port}"
    env = {
        "AIRFLOW_HOME": str(home),
        "JAVA_HOME": java_home(),
        "PATH": f"{venv_bin}{os.pathsep}{path}",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "airflow" / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "airflow" / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        # Every UI and REST API call needs a login (the health endpoint stays public).
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{profile.airflow.admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file(profile, home)),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(profile.airflow.api_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(home),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # A scheduler that died leaves its running tasks orphaned; its successor fails and
        # retries them at its next orphan check, every 300 s by default: check every 30 s.
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": ORPHAN_CHECK_SECONDS,
        # Loopback only, like every native service (its default is 0.0.0.0).
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
    }
    from lakehouse.backends import backends

    metadata = backends(profile).warehouse.airflow_metadata_url(profile.airflow.metadata_database)
    if metadata:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata
    return env


def airflow_connections(profile: Profile) -> dict[str, str]:
    """AIRFLOW_CONN_* variables for the connections of the profile's backends and alerts."""
    from lakehouse.backends import backends

    env: dict[str, str] = {}
    for role in backends(profile).roles:
        for conn_id, conn in role.airflow_connections().items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    from lakehouse.orchestration.alerts import transport_connections

    for conn_id, conn_alert in transport_connections(profile).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn_alert)
    return env
