"""The platform behind each role, chosen once from the profile.

| role        | local                                               | AWS                  |
|-------------|-----------------------------------------------------|----------------------|
| `store`     | `store.S3` at an endpoint (versitygw, MinIO),       | `store.S3`           |
|             | `store.Filesystem` (embedded)                       |                      |
| `spark`     | `spark.SparkSubmit` (standalone cluster, local[n])  | `spark.Glue`         |
| `warehouse` | `warehouse.Postgres`                                | `warehouse.Redshift` |

`backends(profile)` is the only place that looks at which kind a profile names; everything else
asks the objects it returns (base.py says what each role answers). A new platform for a role is
one class in its module and one entry in the tables below.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.backends import spark, store, warehouse
from lakehouse.backends.base import Role, SparkRunner, StoreBackend, WarehouseBackend
from lakehouse.config import (
    FilesystemStore,
    GlueSpark,
    PostgresWarehouse,
    Profile,
    RedshiftWarehouse,
    S3Store,
    SparkCluster,
)

_STORES = {S3Store: store.S3, FilesystemStore: store.Filesystem}
_RUNNERS = {SparkCluster: spark.SparkSubmit, GlueSpark: spark.Glue}
_WAREHOUSES = {PostgresWarehouse: warehouse.Postgres, RedshiftWarehouse: warehouse.Redshift}


@dataclass(frozen=True)
class Backends:
    store: StoreBackend
    spark: SparkRunner
    warehouse: WarehouseBackend

    @property
    def roles(self) -> tuple[Role, ...]:
        return (self.store, self.spark, self.warehouse)


def backends(profile: Profile) -> Backends:
    object_store = _STORES[type(profile.object_store)](profile.object_store)
    runner = _RUNNERS[type(profile.spark)](profile.spark, object_store)
    target = _WAREHOUSES[type(profile.warehouse)](profile.warehouse, profile, object_store)
    return Backends(object_store, runner, target)
