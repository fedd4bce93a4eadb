"""The warehouse, side by side: PostgreSQL (the local stand-in for Redshift, loaded by COPY
FROM STDIN) and Redshift Serverless (through the Data API). The load protocol itself is one,
in lakehouse/warehouse.py; these say what differs around it."""

from __future__ import annotations

from typing import Any

from lakehouse.backends.base import WAREHOUSE_CONN_ID, StoreBackend, WarehouseBackend
from lakehouse.config import PostgresWarehouse, Profile, RedshiftWarehouse


class Postgres(WarehouseBackend):
    native_service = "postgres"

    def __init__(self, cfg: PostgresWarehouse, profile: Profile, store: StoreBackend) -> None:
        self.cfg = cfg
        self.profile = profile

    def loader(self):
        from lakehouse.warehouse import PostgresLoader

        return PostgresLoader(self)

    def airflow_connections(self) -> dict[str, dict[str, Any]]:
        wh = self.cfg
        return {
            WAREHOUSE_CONN_ID: {
                "conn_type": "postgres",
                "host": wh.host,
                "port": wh.port,
                "schema": wh.database,
                "login": wh.loader.user,
                "password": wh.loader.password,
            }
        }

    def airflow_metadata_url(self, database: str) -> str | None:
        return self.cfg.sqlalchemy_url(database)

    def bootstrap(self) -> list[str]:
        import psycopg2

        from lakehouse import warehouse_sql as wsql

        wh = self.cfg
        ran = []
        conn = psycopg2.connect(wh.dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for login in (wh.loader, wh.analyst):
                    role = wsql.quote(login.user, "role")
                    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login.user,))
                    verb = "ALTER" if cur.fetchone() else "CREATE"
                    # A new role has no SUPERUSER, CREATEDB or CREATEROLE; only LOGIN is added.
                    cur.execute(f"{verb} ROLE {role} LOGIN PASSWORD %s", (login.password,))
                    ran.append(f"{verb} ROLE {role} LOGIN ... PASSWORD ***")
                # Needed to set the loader's default privileges and to hand it existing tables
                # (PostgreSQL 16+ no longer makes a role's creator a member of it).
                grant = f"GRANT {wsql.quote(wh.loader.user)} TO CURRENT_USER"
                cur.execute(grant)
                ran.append(grant)
                for statement in wsql.bootstrap(
                    "postgres",
                    schema=wh.schema_name,
                    database=wh.database,
                    loader=wh.loader.user,
                    analyst=wh.analyst.user,
                ):
                    cur.execute(statement)
                    ran.append(statement)
                # Tables created before the loader existed (older installs) pass to the loader.
                cur.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tableowner <> %s",
                    (wh.schema_name, wh.loader.user),
                )
                for (name,) in cur.fetchall():
                    statement = (
                        f"ALTER TABLE {wsql.quote(wh.schema_name)}.{wsql.quote(name)} "
                        f"OWNER TO {wsql.quote(wh.loader.user)}"
                    )
                    cur.execute(statement)
                    ran.append(statement)
        finally:
            conn.close()
        return ran


class Redshift(WarehouseBackend):
    def __init__(self, cfg: RedshiftWarehouse, profile: Profile, store: StoreBackend) -> None:
        self.cfg = cfg
        self.profile = profile
        self.region = store.region  # the Data API's region: the one the lake is in

    def loader(self):
        from lakehouse.warehouse import RedshiftDataLoader

        return RedshiftDataLoader(self)

    def bootstrap_statements(self) -> list[str]:
        from lakehouse import warehouse_sql

        wh = self.cfg
        return warehouse_sql.bootstrap(
            "redshift", schema=wh.schema_name, loader=wh.loader_user, analyst=wh.analyst_role
        )

    def bootstrap(self) -> list[str]:
        raise TypeError(
            f"profile {self.profile.name!r}: Redshift's bootstrap is applied by `lakehouse "
            "deploy` (as a role that may create schemas), not by the loader"
        )

    def deploy_bootstrap(self) -> dict[str, Any] | None:
        return {
            "WorkgroupName": self.cfg.workgroup,
            "Database": self.cfg.database,
            "SecretArn": self.cfg.secret_arn,
            "Sqls": self.bootstrap_statements(),
            "StatementName": "lakehouse-bootstrap",
        }
