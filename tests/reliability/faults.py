"""Fault-injection helpers for the reliability tests: Spark tasks started as Airflow starts
them, throwaway servers to break, and content comparisons (sorted rows, hashes)."""

from __future__ import annotations

import signal
import subprocess

from lakehouse.config import Profile


def _spark_task(profile: Profile, task_id: str, batch_id: str, datasets=None):
    """The master DAG's Spark task for `profile`, and its application arguments with the
    run key templated to `batch_id` (and SILVER's specs cut to `datasets` when given)."""
    import json

    from lakehouse.config.pipelines import load_pipelines
    from lakehouse.config.registry import load_registry
    from lakehouse.orchestration.dags import build_master

    task = build_master(profile, load_registry(), load_pipelines()).get_task(task_id)
    args = [
        a if "{{" not in a else a.split("{{")[0] + batch_id + a.split("}}")[-1]
        for a in task.application_args
    ]
    if datasets is not None:
        at = args.index("--specs") + 1
        args[at] = json.dumps([s for s in json.loads(args[at]) if s["dataset"] in datasets])
    return task, args


def spark_submit(
    profile: Profile, task_id: str, batch_id: str, log, datasets=None
) -> subprocess.Popen:
    """Start one of the master DAG's Spark tasks exactly as its SparkSubmitOperator would
    (same application, arguments, confs and jars; SILVER's datasets cut to `datasets` when
    given) in a new process group, so the whole driver (the JVM and its Python process) can be
    killed at once. Output goes to `log`."""
    import sys
    from pathlib import Path

    from lakehouse.platform.airflow_env import airflow_environment

    task, args = _spark_task(profile, task_id, batch_id, datasets)
    confs = [x for k, v in task.conf.items() for x in ("--conf", f"{k}={v}")]
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master",
        profile.spark.master,
        *confs,
        "--jars",
        task.jars,
        "--name",
        f"reliability.{task_id}",
        task.application,
        *args,
    ]
    out = open(log, "w")  # noqa: SIM115 - the child owns it until it exits
    return subprocess.Popen(
        cmd,
        env={**airflow_environment(profile), **(task.env_vars or {})},  # as the operator does
        start_new_session=True,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def run_in_process(spark, profile: Profile, task_id: str, batch_id: str) -> dict:
    """One of the master DAG's Spark tasks run to the end on `spark` (a session already
    pointed at the profile's object store): the job's own `run` with the arguments its
    SparkSubmitOperator passes. For the runs nobody kills: no driver of their own to start."""
    import importlib
    import os
    from unittest import mock

    from spark_jobs.runtime import parse_args

    task, args = _spark_task(profile, task_id, batch_id)
    job = importlib.import_module(f"spark_jobs.{task_id}")
    with mock.patch.dict(os.environ, task.env_vars or {}):  # the operator's env_vars
        return job.run(spark, parse_args(task_id, job.ARGS, [task.application, *args]))


# ----------------------------------------------------------------------------- throwaway servers
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(what: str, ready, proc: subprocess.Popen, log, timeout: float = 60) -> None:
    import time
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            state = f"exited {proc.returncode}" if proc.poll() is not None else "not ready"
            raise RuntimeError(
                f"{what} {state} after start; its log {log}:\n"
                f"{Path(log).read_text(errors='replace')[-3000:]}"
            )
        time.sleep(0.2)


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb in a new temporary directory, a free port, the
    binaries and system account lakehouse.platform.services uses), bootstrapped like the local
    one: the profile's login, databases, warehouse schema and roles. The shared server is never
    touched, so this one may be restarted and killed at will. `profile` is `base` with its
    warehouse and source DB pointed here."""

    def __init__(self, base: Profile) -> None:
        import tempfile
        from pathlib import Path

        from lakehouse.platform.postgres import pg_bindir

        # Not under pytest's temporary directory: another pytest session resets that to mode
        # 0700, and the server runs as the postgres account (lakehouse.platform.postgres.pg_user).
        self.root = Path(tempfile.mkdtemp(prefix="lakehouse-reliability-pg-"))
        self.port = free_port()
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self.bindir = pg_bindir(base)
        self.proc: subprocess.Popen | None = None
        update = {"port": self.port, "host": "127.0.0.1"}
        self.profile = base.model_copy(
            update={
                "warehouse": base.warehouse.model_copy(update=update),
                "source_db": base.source_db.model_copy(update=update) if base.source_db else None,
            }
        )

    def start(self) -> None:
        from lakehouse.platform.postgres import pg_initdb, pg_ready, pg_server_command

        pg_initdb(self.bindir, self.data)
        self.proc = subprocess.Popen(
            pg_server_command(self.bindir, self.data, self.port),
            stdout=open(self.log, "ab"),  # noqa: SIM115 - the server outlives this call
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait("throwaway PostgreSQL", lambda: pg_ready(self.data, self.port), self.proc, self.log)

    def bootstrap(self) -> None:
        from lakehouse.platform.postgres import pg_bootstrap

        pg_bootstrap(self.profile, self.profile.warehouse, self.data)

    def stop(self, sig: int = signal.SIGINT) -> None:
        """SIGINT: PostgreSQL's fast shutdown (open transactions rolled back, clients cut);
        SIGQUIT: immediate (crash recovery at the next start); SIGKILL: the postmaster only."""
        import os

        if self.proc is not None and self.proc.poll() is None:
            # The postmaster itself: the process started is runuser, which forwards SIGTERM only.
            os.kill(self.postmaster_pid(), sig)
            self.proc.wait(timeout=60)
        self.proc = None

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def restart(self, sig: int = signal.SIGINT) -> None:
        self.stop(sig)
        self.start()

    def remove(self) -> None:
        """Stop the server and delete its data directory."""
        import shutil

        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayS3:
    """A versitygw of its own (the binary lakehouse.platform.services builds, a free port) serving
    `root`, with the profile's credentials; `profile` is `base` pointed at it."""

    def __init__(self, base: Profile, root) -> None:
        self.port = free_port()
        self.root = root
        self.log = root.parent / f"versitygw-{self.port}.log"
        store = base.object_store.model_copy(
            update={"endpoint_url": f"http://127.0.0.1:{self.port}"}
        )
        self.profile = base.model_copy(update={"object_store": store})
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from lakehouse.platform.s3_server import s3_healthy, versitygw_command

        self.root.mkdir(parents=True, exist_ok=True)
        cmd = versitygw_command(self.profile.object_store, self.port, self.root)
        self.proc = subprocess.Popen(
            cmd,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - the server outlives this call
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait("throwaway versitygw", lambda: s3_healthy(self.port), self.proc, self.log, 30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


# ----------------------------------------------------------------------------- content
def _normal(value):
    """Arrow gives UTC-aware timestamps; PostgreSQL's TIMESTAMP columns give naive UTC ones."""
    import datetime as dt

    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def rows_sorted(rows) -> list[tuple]:
    return sorted((tuple(_normal(v) for v in row) for row in rows), key=repr)


def content_hash(rows) -> str:
    """sha256 over a table's rows, sorted: equal hashes mean equal content, in any order."""
    import hashlib

    digest = hashlib.sha256()
    for row in rows_sorted(rows):
        digest.update(repr(row).encode() + b"\n")
    return digest.hexdigest()


def delta_hashes(spark, root) -> dict[str, tuple[int, str]]:
    """(rows, content hash) of every Delta table directly under `root` (a local folder)."""
    from pathlib import Path

    out = {}
    for table in sorted(p for p in Path(root).iterdir() if (p / "_delta_log").is_dir()):
        rows = [tuple(r) for r in spark.read.format("delta").load(str(table)).collect()]
        out[table.name] = (len(rows), content_hash(rows))
    return out


def warehouse_tables(profile, login) -> dict[str, list[tuple]]:
    """Every warehouse table's rows (sorted), read with `login`; the restricted tables (personal
    data, which `login` may not read) with the pii reader's login."""
    import psycopg2

    from lakehouse.warehouse import sql as warehouse_sql

    wh = profile.warehouse
    out = {}
    for restricted, reader in ((False, login), (True, wh.pii_reader)):
        conn = psycopg2.connect(wh.dsn(login=reader))
        try:
            with conn, conn.cursor() as cur:
                for name, table in sorted(warehouse_sql.table_defs().items()):
                    if table.restricted != restricted:
                        continue
                    cols = ", ".join(warehouse_sql.quote(c) for c in table.column_names)
                    schema = warehouse_sql.schema_of(table, wh.schema_name)
                    cur.execute(f'SELECT {cols} FROM "{schema}"."{name}"')
                    out[name] = rows_sorted(cur.fetchall())
        finally:
            conn.close()
    return dict(sorted(out.items()))


def gold_export_tables(profile) -> dict[str, list[tuple]]:
    """Every gold export's rows (sorted), as the warehouse load reads them."""
    from lakehouse import warehouse
    from lakehouse.warehouse import sql as warehouse_sql

    return {
        name: rows_sorted(
            tuple(r.values()) for r in warehouse.read_export(profile, name).to_pylist()
        )
        for name in sorted(warehouse_sql.table_defs())
    }


def load_gold_again(profile) -> float:
    """The load after a failed or killed one, asserted whole: every table loaded and validated,
    and what the analyst reads equals GOLD's exports row for row. Returns its seconds."""
    import time

    from lakehouse import warehouse
    from lakehouse.warehouse import sql as warehouse_sql

    started = time.monotonic()
    report = warehouse.load(profile)
    seconds = time.monotonic() - started
    assert sorted(report.tables) == sorted(warehouse_sql.table_defs())
    warehouse.validate(profile)
    assert warehouse_tables(profile, profile.warehouse.analyst) == gold_export_tables(profile)
    return seconds


def arrow_figures(definition, data) -> dict:
    """A table's validation figures computed with pyarrow on this machine: the independent peer
    of the figures silver_to_gold computes in Spark next to each export."""
    from decimal import Decimal

    import pyarrow.compute as pc

    checks = definition.checks
    out: dict = {"rows": data.num_rows}
    for col in checks.sums:
        value = pc.sum(data.column(col)).as_py()
        out[f"sum:{col}"] = None if value is None else Decimal(value)
    for col in checks.distinct:
        out[f"distinct:{col}"] = pc.count_distinct(data.column(col), mode="only_valid").as_py()
    for col, key in checks.unknown_members.items():
        out[f"unknown:{col}"] = pc.sum(pc.equal(data.column(col), key)).as_py() or 0
    return out


def write_export(folder, definition, data) -> None:
    """A table's gold export as silver_to_gold leaves it: one Parquet file and its figures
    (computed here with pyarrow), replacing what the folder held."""
    import json

    import pyarrow.parquet as pq

    from spark_jobs.contract import FIGURES_FILE

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    pq.write_table(data, folder / "part-00000.parquet")
    figures = arrow_figures(definition, data)
    figures = {k: None if v is None else str(v) for k, v in figures.items()}
    (folder / FIGURES_FILE).write_text(json.dumps(figures))
