"""The warehouse, side by side: PostgreSQL (the local stand-in for Redshift) and Redshift
Serverless (through the Data API). What each is and how it is reached; how GOLD is loaded into
it, and how it is bootstrapped, is lakehouse/warehouse/'s business (one loader per dialect)."""

from __future__ import annotations

from typing import Any

from lakehouse.backends.base import WAREHOUSE_CONN_ID, StoreBackend, WarehouseBackend
from lakehouse.config import PostgresWarehouse, Profile, RedshiftWarehouse


class Postgres(WarehouseBackend):
    dialect = "postgres"
    native_service = "postgres"

    def __init__(self, cfg: PostgresWarehouse, profile: Profile, store: StoreBackend) -> None:
        self.cfg = cfg
        self.profile = profile

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

    def bootstrap_names(self) -> dict[str, str]:
        wh = self.cfg
        return {
            "schema": wh.schema_name,
            "database": wh.database,
            "loader": wh.loader.user,
            "analyst": wh.analyst.user,
            "pii_reader": wh.pii_reader.user,
        }


class Redshift(WarehouseBackend):
    dialect = "redshift"

    def __init__(self, cfg: RedshiftWarehouse, profile: Profile, store: StoreBackend) -> None:
        self.cfg = cfg
        self.profile = profile
        self.region = store.region  # the Data API's region: the one the lake is in

    def bootstrap_names(self) -> dict[str, str]:
        wh = self.cfg
        return {
            "schema": wh.schema_name,
            "loader": wh.loader_user,
            "analyst": wh.analyst_role,
            "pii_reader": wh.pii_role,
        }

    def data_api_target(self, admin: bool = False) -> dict[str, str] | None:
        secret = self.cfg.secret_arn
        if admin:
            if not self.cfg.admin_secret_arn:
                raise ValueError(
                    f"profile {self.profile.name!r}: warehouse.admin_secret_arn is empty (set "
                    "LAKEHOUSE_REDSHIFT_ADMIN_SECRET_ARN for the aws profile): the bootstrap "
                    "creates the schema and grants on it, which the loader's secret may not do"
                )
            secret = self.cfg.admin_secret_arn
        return {
            "WorkgroupName": self.cfg.workgroup,
            "Database": self.cfg.database,
            "SecretArn": secret,
        }
