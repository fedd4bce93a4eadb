"""GOLD -> WAREHOUSE: load every gold export into PostgreSQL (local) or Redshift Serverless
(aws) with the same protocol, then prove it complete.

1. stage: each table into `<table>__staging`, created from warehouse_sql/tables/<table>.yaml.
   PostgreSQL: the Parquet export is streamed with `COPY ... FROM STDIN` (CSV, batch by batch;
   keys and indexes built after the COPY). Redshift: `COPY ... FORMAT AS PARQUET` from a
   manifest of the export's files, through the Data API with the profile's IAM role.
2. validate staging: row count, sums and distinct counts per table equal GOLD's figures
   (computed by silver_to_gold in Spark next to the export, so the worker never scans it);
   on a mismatch nothing is swapped.
3. swap: every live table replaced by its staging table in ONE transaction, so readers see
   the previous load or this one, never a partial table (Redshift: one Data API batch that
   creates the swap procedure and CALLs it, so any table count fits the batch's 40 statements).
4. validate live: the same figures on the live tables (the `validate_warehouse` task).

Connects as the loader login (PostgreSQL) or the loader secret (Redshift): it can write the
analytics schema and its restricted schema (tables of personal data, `restricted: true`) and
nothing else. `bootstrap()` creates the schemas, the loader, analyst and pii reader roles and
their grants (run by the database owner).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import psycopg2
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from psycopg2 import sql as pgsql  # not `sql`: that is this package's SQL module

from lakehouse.backends import backends
from lakehouse.backends.base import AWS_CONN_ID
from lakehouse.config import Profile
from lakehouse.warehouse import sql as wsql
from lakehouse.warehouse.sql import Dialect, TableDef
from spark_jobs.contract import FIGURES_FILE

if TYPE_CHECKING:
    from lakehouse.backends import warehouse as backend_roles

EXPORT_PREFIX = "_export"  # gold bucket: _export/<table>/part-*.parquet (silver_to_gold)
MANIFEST_PREFIX = "_manifests"  # gold bucket: _manifests/<table>.manifest (Redshift COPY)


class WarehouseError(RuntimeError):
    """A load or validation that must fail the task (and leaves the live tables unchanged)."""


class ConnectionLost(WarehouseError):
    """The warehouse connection broke inside a transaction (the server restarted or stopped).
    The server rolls such a transaction back, so nothing was swapped: retrying is safe."""

    def __init__(self, where: str, what: str, consequence: str, exc: BaseException) -> None:
        # psycopg2 raises "connection already closed" from the rollback on the way out; the
        # server's own message is the exception that one interrupted.
        while isinstance(exc, psycopg2.InterfaceError) and exc.__context__ is not None:
            exc = exc.__context__
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        super().__init__(
            f"{what}: lost the connection to PostgreSQL at {where} ({cause}). {consequence}; "
            f"retry the load once the server is up (`lakehouse services status`)."
        )


class ValidationFailed(WarehouseError):
    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what}: " + "; ".join(problems))


# --------------------------------------------------------------------------- gold exports
@dataclass
class Export:
    """One table's gold Parquet export: its files and the dataset over them."""

    table: TableDef
    files: list[pafs.FileInfo]
    dataset: ds.Dataset
    fs: pafs.FileSystem
    folder: str

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def urls(self) -> list[str]:
        return [f"s3://{f.path}" for f in self.files]


def find_export(profile: Profile, table: TableDef) -> Export | None:
    """The export of `table`, or None when GOLD did not publish it (e.g. no operational DB)."""
    fs, prefix = backends(profile).store.arrow_filesystem()
    folder = f"{prefix}{profile.zones.gold}/{EXPORT_PREFIX}/{table.name}"
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    files = sorted(
        (
            i
            for i in infos
            if i.is_file
            and i.base_name.endswith(".parquet")
            and not i.base_name.startswith(("_", "."))
        ),
        key=lambda i: i.path,
    )
    if not files:
        return None
    dataset = ds.dataset([f.path for f in files], format="parquet", filesystem=fs)
    names = dataset.schema.names
    if names != table.column_names:
        raise WarehouseError(
            f"{folder}: the export's columns {names} differ from warehouse_sql/tables/"
            f"{table.name}.yaml {table.column_names} (same names in the same order are required: "
            f"Redshift's Parquet COPY loads by position)"
        )
    return Export(table, files, dataset, fs, folder)


def read_export(profile: Profile, table: str, columns: list[str] | None = None) -> pa.Table:
    """A gold export as an Arrow table, whole or only `columns` (tests and reports; loads
    stream instead)."""
    export = find_export(profile, wsql.table_defs()[table])
    if export is None:
        raise WarehouseError(f"no gold export for {table} in bucket {profile.zones.gold}")
    return export.dataset.to_table(columns=columns)


Figures = dict[str, Any]  # figure name (TableDef.figure_names) -> int | Decimal | None


def gold_figures(export: Export) -> Figures:
    """The export's figures as silver_to_gold computed them next to it (FIGURES_FILE): row
    count, sums and distinct counts come from Spark, where the data is, so the worker loading
    a table of any size reads a few bytes instead of the table."""
    path = f"{export.folder}/{FIGURES_FILE}"
    try:
        with export.fs.open_input_stream(path) as f:
            found = json.loads(f.read())
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise WarehouseError(
            f"{path}: the export's figures are unreadable ({exc}); rerun "
            "silver_to_gold, which writes them with the export"
        ) from exc
    missing = [name for name in export.table.figure_names if name not in found]
    if missing:
        raise WarehouseError(
            f"{path}: no figure {missing} (the checks in warehouse_sql/tables/"
            f"{export.table.name}.yaml changed since GOLD was published): rerun silver_to_gold"
        )
    return {
        name: (None if found[name] is None else Decimal(found[name]))
        if name.startswith("sum:")
        else int(found[name])
        for name in export.table.figure_names
    }


def parse_figures(table: TableDef, text: str) -> Figures:
    values = text.split("|")
    out: Figures = {}
    for name, value in zip(table.figure_names, values, strict=True):
        if name.startswith("sum:"):
            out[name] = Decimal(value) if value != "" else None
        else:
            out[name] = int(value)
    return out


def compare(expected: dict[str, Figures], observed: dict[str, Figures], where: str) -> list[str]:
    problems = []
    for table, figures in expected.items():
        got = observed.get(table)
        if got is None:
            problems.append(f"{table}: not found in {where}")
            continue
        for name, value in figures.items():
            if got.get(name) != value:
                problems.append(f"{table}.{name}: {where} {got.get(name)} != gold {value}")
    return problems


# --------------------------------------------------------------------------- loaders
class Loader(Protocol):
    dialect: Dialect
    schema: str

    def stage(self, export: Export) -> None: ...
    def execute(self, statements: list[str]) -> None: ...
    def query(self, statement: str) -> list[tuple]: ...


class _CsvStream:
    """A read()-able file over Arrow record batches rendered as CSV, so copy_expert streams a
    table of any size with bounded memory. Hand-written: psycopg2 reads from a file object and
    pyarrow writes CSV per batch; no library joins the two without materialising the table."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._header = True
        self.bytes = 0

    def read(self, size: int = -1) -> bytes:
        for batch in self._batches:
            if batch.num_rows == 0:
                continue
            buf = pa.BufferOutputStream()
            pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=self._header))
            self._header = False
            chunk = buf.getvalue().to_pybytes()
            self.bytes += len(chunk)
            return chunk
        return b""


class PostgresLoader:
    dialect: Dialect = "postgres"

    def __init__(self, target: backend_roles.Postgres) -> None:
        self.wh = target.cfg
        self.schema = self.wh.schema_name
        self.streamed_bytes = 0

    def connect(self):
        return psycopg2.connect(self.wh.dsn(login=self.wh.loader))

    @contextlib.contextmanager
    def _session(self, what: str, consequence: str) -> Iterator[Any]:
        """A connection for one unit of work, closed after it; a connection lost midway is
        raised as ConnectionLost (what was being done, the server's message, what it means for
        the live tables, what to do)."""
        conn = self.connect()
        try:
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if not conn.closed:
                raise
            where = f"{self.wh.host}:{self.wh.port}"
            raise ConnectionLost(where, what, consequence, exc) from exc
        finally:
            conn.close()

    def stage(self, export: Export) -> None:
        """Create the staging table, stream the export in, then build keys and indexes; one
        transaction, so a killed load leaves no half-filled staging table behind either."""
        table = export.table
        staging = wsql.staging_name(table.name)
        copy = pgsql.SQL("COPY {}.{} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
            pgsql.Identifier(wsql.schema_of(table, self.schema)),
            pgsql.Identifier(staging),
            pgsql.SQL(", ").join(pgsql.Identifier(c) for c in table.column_names),
        )
        stream = _CsvStream(
            export.dataset.to_batches(columns=table.column_names, batch_size=64 * 1024)
        )
        unswapped = "Nothing was swapped: the live tables are still the previous load's"
        with self._session(f"staging {table.name}", unswapped) as conn, conn, conn.cursor() as cur:
            cur.execute(wsql.drop_staging(table, self.schema))
            cur.execute(wsql.create_table(table, self.schema, "postgres", staging))
            cur.copy_expert(copy.as_string(conn), stream)
            # Index builds sort in memory up to this limit, for this transaction only.
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for statement in wsql.postgres_keys(table, self.schema, staging):
                cur.execute(statement)
        self.streamed_bytes += stream.bytes

    def execute(self, statements: list[str]) -> None:
        # One transaction: all or nothing, also when the connection is cut.
        whole = "The transaction was applied or rolled back as a whole, never in part"
        with self._session("running statements", whole) as conn, conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)

    def query(self, statement: str) -> list[tuple]:
        with self._session("query", "Nothing was changed") as conn, conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()


class RedshiftDataLoader:
    """Redshift Serverless through the Data API (the amazon provider's RedshiftDataHook):
    a list of statements is one BatchExecuteStatement, which Redshift runs as one transaction."""

    dialect: Dialect = "redshift"

    def __init__(
        self,
        target: backend_roles.Redshift,
        aws_conn_id: str | None = AWS_CONN_ID,
        poll_interval: float = 5,
    ) -> None:
        from airflow.providers.amazon.aws.hooks.redshift_data import RedshiftDataHook

        self.profile = target.profile
        self.wh = target.cfg
        self.schema = self.wh.schema_name
        self.poll_interval = poll_interval
        self.hook = RedshiftDataHook(aws_conn_id=aws_conn_id, region_name=target.region)

    def _run(self, statement: str | list[str], name: str):
        return self.hook.execute_query(
            sql=statement,
            workgroup_name=self.wh.workgroup,
            database=self.wh.database,
            secret_arn=self.wh.secret_arn,
            statement_name=name,
            wait_for_completion=True,
            poll_interval=self.poll_interval,
        )

    def stage(self, export: Export) -> None:
        from lakehouse.backends.storage import object_store

        table = export.table
        manifest = {
            "entries": [
                {"url": url, "mandatory": True, "meta": {"content_length": f.size}}
                for url, f in zip(export.urls(), export.files, strict=True)
            ]
        }
        key = f"{MANIFEST_PREFIX}/{table.name}.manifest"
        gold = self.profile.zones.gold
        object_store(self.profile).put(gold, key, json.dumps(manifest, indent=1).encode())
        copy = wsql.redshift_copy(table, self.schema, f"s3://{gold}/{key}", self.wh.iam_role)
        create = wsql.create_table(table, self.schema, "redshift", wsql.staging_name(table.name))
        self._run([wsql.drop_staging(table, self.schema), create, copy], f"stage-{table.name}")

    def execute(self, statements: list[str]) -> None:
        # One batch is one transaction; more statements than a batch takes would need several
        # transactions, so they are refused rather than split (the swap never needs more).
        if len(statements) > wsql.DATA_API_MAX_STATEMENTS:
            raise WarehouseError(
                f"{len(statements)} statements cannot run as one transaction through the Redshift "
                f"Data API (at most {wsql.DATA_API_MAX_STATEMENTS} per BatchExecuteStatement)"
            )
        self._run(list(statements), "swap")

    def query(self, statement: str) -> list[tuple]:
        out = self._run(statement, "figures")
        rows: list[tuple] = []
        kwargs: dict[str, str] = {"Id": out.statement_id}
        while True:
            page = self.hook.conn.get_statement_result(**kwargs)
            for record in page["Records"]:
                rows.append(
                    tuple(None if f.get("isNull") else next(iter(f.values())) for f in record)
                )
            if not page.get("NextToken"):
                return rows
            kwargs["NextToken"] = page["NextToken"]


# --------------------------------------------------------------------------- load / validate
@dataclass
class LoadReport:
    tables: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)  # epoch seconds, for the run report
    duration_s: float | None = None

    def as_dict(self) -> dict:
        return {
            "tables": self.tables,
            "skipped": self.skipped,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
        }


def _selected(tables: list[str] | None) -> list[TableDef]:
    defs = wsql.table_defs()
    unknown = sorted(set(tables or []) - set(defs))
    if unknown:
        raise WarehouseError(f"unknown warehouse tables {unknown}; defined: {sorted(defs)}")
    return [defs[name] for name in (tables or sorted(defs))]


def _exports(profile: Profile, tables: list[str] | None) -> tuple[dict[str, Export], list[str]]:
    exports, skipped = {}, []
    for table in _selected(tables):
        export = find_export(profile, table)
        if export is None:
            skipped.append(table.name)
        else:
            exports[table.name] = export
    if not exports:
        raise WarehouseError(
            f"no gold export found under {profile.uri('gold', EXPORT_PREFIX)}: run silver_to_gold"
        )
    return exports, skipped


def observed_figures(backend: Loader, tables: list[TableDef], staging: bool) -> dict:
    rows = backend.query(wsql.figures_query(tables, backend.schema, staging))
    by_name = {t.name: t for t in tables}
    return {name: parse_figures(by_name[name], str(text)) for name, text in rows}


def load(profile: Profile, tables: list[str] | None = None, backend: Loader | None = None):
    """Stage, validate and swap every gold table that has an export; returns a LoadReport.
    Raises ValidationFailed (live tables unchanged) when a staged table differs from GOLD."""
    backend = backend or loader(profile)
    exports, skipped = _exports(profile, tables)
    report = LoadReport(skipped=skipped)
    expected = {}
    for name, export in exports.items():
        started = time.monotonic()
        expected[name] = gold_figures(export)
        backend.stage(export)
        report.tables[name] = {
            "rows": expected[name]["rows"],
            "parquet_bytes": export.bytes,
            "seconds": round(time.monotonic() - started, 3),
        }
    defs = [e.table for e in exports.values()]
    staged = observed_figures(backend, defs, staging=True)
    problems = compare(expected, staged, "staging")
    if problems:
        raise ValidationFailed(
            f"{backend.schema}: staged tables differ from GOLD; live tables left unchanged "
            f"(staging tables kept as <table>{wsql.STAGING_SUFFIX} for inspection)",
            problems,
        )
    backend.execute(wsql.swap(defs, backend.schema, backend.dialect))
    for name, figures in expected.items():
        report.tables[name]["figures"] = {k: str(v) for k, v in figures.items()}
    report.duration_s = round(time.time() - report.started_at, 3)
    return report


def validate(profile: Profile, tables: list[str] | None = None, backend: Loader | None = None):
    """The live tables against GOLD (row count, sums, distinct counts); raises on a mismatch."""
    backend = backend or loader(profile)
    exports, skipped = _exports(profile, tables)
    expected = {name: gold_figures(export) for name, export in exports.items()}
    live = observed_figures(backend, [e.table for e in exports.values()], staging=False)
    problems = compare(expected, live, "warehouse")
    if problems:
        raise ValidationFailed(f"{backend.schema}: warehouse differs from GOLD", problems)
    return {
        "tables": {n: {k: str(v) for k, v in f.items()} for n, f in expected.items()},
        "skipped": skipped,
    }


# --------------------------------------------------------------------------- bootstrap
def loader(profile: Profile) -> Loader:
    """The load engine for the profile's warehouse."""
    target = backends(profile).warehouse
    return LOADERS[target.dialect](target)


def bootstrap(profile: Profile) -> list[str]:
    """Create (or update) the warehouse's loader and analyst logins, its schema and the grants,
    as the database owner; idempotent. Returns the statements run (passwords elided)."""
    target = backends(profile).warehouse
    return BOOTSTRAPS[target.dialect](target)


def _bootstrap_postgres(target: backend_roles.Postgres) -> list[str]:
    wh = target.cfg
    ran = []
    conn = psycopg2.connect(wh.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for login in (wh.loader, wh.analyst, wh.pii_reader):
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
            for statement in wsql.bootstrap("postgres", **target.bootstrap_names()):
                cur.execute(statement)
                ran.append(statement)
            # Tables created before the loader existed (older installs) pass to the loader.
            schemas = [wh.schema_name, wsql.restricted_schema(wh.schema_name)]
            cur.execute(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname = ANY(%s) AND tableowner <> %s",
                (schemas, wh.loader.user),
            )
            for schema, name in cur.fetchall():
                statement = (
                    f"ALTER TABLE {wsql.quote(schema)}.{wsql.quote(name)} "
                    f"OWNER TO {wsql.quote(wh.loader.user)}"
                )
                cur.execute(statement)
                ran.append(statement)
    finally:
        conn.close()
    return ran


def _bootstrap_redshift(target: backend_roles.Redshift) -> list[str]:
    raise TypeError(
        f"profile {target.profile.name!r}: Redshift's bootstrap is applied by `lakehouse "
        "deploy` (as a role that may create schemas), not by the loader"
    )


LOADERS: dict[str, Callable[..., Loader]] = {
    "postgres": PostgresLoader,
    "redshift": RedshiftDataLoader,
}
BOOTSTRAPS = {"postgres": _bootstrap_postgres, "redshift": _bootstrap_redshift}
