"""Warehouse table definitions and the SQL rendered from them, for PostgreSQL and Redshift.

`warehouse_sql/tables/<table>.yaml` holds one definition per GOLD table: its columns in the
gold export's order (Redshift's Parquet COPY loads by position), logical types, primary key,
Redshift layout (DISTSTYLE/DISTKEY/SORTKEY; PostgreSQL gets b-tree indexes on the same
columns) and the figures the loader validates (row count, sums, distinct counts).
A table marked `restricted: true` (personal data) lives in `<schema>_restricted`, which only
the pii reader role may read (docs/pii.md); everything else in `<schema>`, read by analysts.
`warehouse_sql/bootstrap/<dialect>.sql` holds the schemas, grants and default privileges;
`warehouse_sql/procedures/redshift_swap.sql` the procedure that swaps Redshift's tables.

Every identifier comes from config and must match IDENTIFIER before it is double-quoted;
S3 URIs and role ARNs must match their own patterns before they become literals. No SQL is
ever built from data: the loader compares the figures it reads back in Python.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lakehouse.config import ConfigError, validation_error
from lakehouse.paths import REPO_ROOT

SQL_DIR = REPO_ROOT / "warehouse_sql"
TABLES_DIR = SQL_DIR / "tables"
Dialect = Literal["postgres", "redshift"]
DIALECTS: tuple[Dialect, ...] = ("postgres", "redshift")

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[A-Za-z0-9_./=\-]*")
ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_\-/]{1,512}")
_TYPE = re.compile(
    r"(?P<base>bigint|integer|smallint|boolean|date|timestamp|double|super"
    r"|varchar\((?P<len>\d{1,5})\)|decimal\((?P<p>\d{1,2}),(?P<s>\d{1,2})\))"
    r"(?P<notnull> not null)?"
)
_EXACT = ("bigint", "integer", "smallint", "decimal")
STAGING_SUFFIX = "__staging"
RESTRICTED_SUFFIX = "_restricted"  # <schema>_restricted: the restricted tables' schema
# The Data API's BatchExecuteStatement takes 1 to 40 statements (its `Sqls` parameter).
DATA_API_MAX_STATEMENTS = 40
SWAP_PROCEDURE = "lakehouse_swap"  # warehouse_sql/procedures/redshift_swap.sql
# Table names per CALL of it: 1,000 names of at most 63 characters fit its VARCHAR(65535).
NAMES_PER_CALL = 1000


class UnsafeIdentifier(ValueError):
    """A schema, table, column or role name that is not a plain lower-case SQL identifier."""


def quote(name: str, what: str = "identifier") -> str:
    """Validate `name` against IDENTIFIER and double-quote it."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise UnsafeIdentifier(
            f"{what} {name!r} is not allowed: use lower-case letters, digits and _, starting "
            f"with a letter or _, at most 63 characters"
        )
    return f'"{name}"'


def literal(value: str, pattern: re.Pattern[str], what: str) -> str:
    """A single-quoted SQL literal for a config value that matches `pattern` (no quotes in it)."""
    if not pattern.fullmatch(value):
        raise UnsafeIdentifier(f"{what} {value!r} does not match {pattern.pattern}")
    return f"'{value}'"


class Column(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    type: str  # logical: bigint, integer, smallint, boolean, date, timestamp, double, super,
    nullable: bool  # varchar(n), decimal(p,s)

    @property
    def base(self) -> str:
        return self.type.split("(")[0]

    def sql_type(self, dialect: Dialect) -> str:
        base = self.base
        if base == "varchar":
            return self.type.upper()
        if base == "decimal":
            args = self.type[len("decimal") :]
            return ("NUMERIC" if dialect == "postgres" else "DECIMAL") + args
        if base == "double":
            return "DOUBLE PRECISION"
        if base == "super":
            return "JSONB" if dialect == "postgres" else "SUPER"
        return base.upper()


class RedshiftLayout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    diststyle: Literal["auto", "even", "all", "key"] = "auto"
    distkey: str | None = None
    sortkey: list[str] = []


class Checks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sums: list[str] = []
    distinct: list[str] = []
    # column -> the surrogate key of its dimension's unknown member: rows keyed to it (facts
    # whose dimension member had not arrived yet) are counted, and the count validated.
    unknown_members: dict[str, int] = {}


class TableDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str
    columns: list[Column]
    primary_key: list[str] = Field(min_length=1)
    redshift: RedshiftLayout = RedshiftLayout()
    checks: Checks = Checks()
    # Personal data: loaded into <schema>_restricted, which the analyst role cannot read.
    restricted: bool = False

    @model_validator(mode="before")
    @classmethod
    def _parse_columns(cls, data: dict) -> dict:
        """`columns` is a list of one-entry mappings: `- name: type [not null]`."""
        raw = data.get("columns")
        if not isinstance(raw, list) or not raw:
            raise ValueError("columns: expected a non-empty list of `- name: type` entries")
        parsed = []
        for i, entry in enumerate(raw):
            if isinstance(entry, Column):
                parsed.append(entry)
                continue
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ValueError(f"columns[{i}]: expected one `name: type` entry, got {entry!r}")
            ((name, spec),) = entry.items()
            match = _TYPE.fullmatch(str(spec).strip().lower())
            if not match:
                raise ValueError(f"columns[{i}] ({name}): unknown type {spec!r}")
            if match["base"].startswith("decimal") and int(match["s"]) > int(match["p"]):
                raise ValueError(f"columns[{i}] ({name}): scale larger than precision")
            kind = match["base"]
            parsed.append(Column(name=name, type=kind, nullable=not match["notnull"]))
        return {**data, "columns": parsed}

    @model_validator(mode="after")
    def _check_references(self) -> TableDef:
        quote(self.name, "table name")
        quote(self.name + STAGING_SUFFIX + "_distkey", "table name (with suffixes)")
        names = [c.name for c in self.columns]
        for c in names:
            quote(c, f"column of {self.name}")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in {names}")
        by_name = {c.name: c for c in self.columns}
        layout = self.redshift
        refs = {
            "primary_key": self.primary_key,
            "redshift.sortkey": layout.sortkey,
            "checks.sums": self.checks.sums,
            "checks.distinct": self.checks.distinct,
            "checks.unknown_members": list(self.checks.unknown_members),
        }
        if layout.distkey:
            refs["redshift.distkey"] = [layout.distkey]
        for key, cols in refs.items():
            unknown = [c for c in cols if c not in by_name]
            if unknown:
                raise ValueError(f"{key}: unknown columns {unknown} (columns: {names})")
        if (layout.diststyle == "key") != (layout.distkey is not None):
            raise ValueError("redshift.distkey is required with diststyle key, and only then")
        for c in self.primary_key:
            if by_name[c].nullable:
                raise ValueError(f"primary_key: column {c} must be `not null`")
        for c in self.checks.sums:
            if by_name[c].base not in _EXACT:
                raise ValueError(
                    f"checks.sums: {c} is {by_name[c].type}; sums are compared exactly, so only "
                    f"integer and decimal columns can be summed"
                )
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def figure_names(self) -> list[str]:
        """The validation figures, in the order figures_query returns them."""
        return (
            ["rows"]
            + [f"sum:{c}" for c in self.checks.sums]
            + [f"distinct:{c}" for c in self.checks.distinct]
            + [f"unknown:{c}" for c in self.checks.unknown_members]
        )

    def postgres_indexes(self) -> dict[str, list[str]]:
        """Index name suffix -> columns: the primary key, then b-tree indexes standing in for
        Redshift's sort key and distribution key where the primary key does not cover them."""
        out = {"pkey": self.primary_key}
        layout = self.redshift
        if layout.sortkey and layout.sortkey != self.primary_key[: len(layout.sortkey)]:
            out["sortkey"] = layout.sortkey
        covered = [cols[0] for cols in out.values()]
        if layout.distkey and layout.distkey not in covered:
            out["distkey"] = [layout.distkey]
        return out


def load_table_def(path: Path) -> TableDef:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return TableDef.model_validate({"name": path.stem, **raw})
    except ValidationError as exc:
        raise validation_error(path, exc) from exc
    except UnsafeIdentifier as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@cache
def table_defs(directory: Path = TABLES_DIR) -> dict[str, TableDef]:
    """Every warehouse table definition, by name (the file's stem)."""
    found = sorted(directory.glob("*.yaml"))
    if not found:
        raise ConfigError(f"{directory}: no table definitions (*.yaml)")
    return {p.stem: load_table_def(p) for p in found}


def figures_spec_json(directory: Path = TABLES_DIR) -> str:
    """Each table's checks as the silver_to_gold job takes them (one JSON argument): the job
    computes the export's figures where the data is, and the loader compares them."""
    return json.dumps({name: t.checks.model_dump() for name, t in table_defs(directory).items()})


def staging_name(table: str) -> str:
    return table + STAGING_SUFFIX


def restricted_schema(schema: str) -> str:
    return schema + RESTRICTED_SUFFIX


def schema_of(table: TableDef, schema: str) -> str:
    """The schema `table` lives in, given the warehouse's analytics schema."""
    return restricted_schema(schema) if table.restricted else schema


def _qualified(schema: str, table: str) -> str:
    return f"{quote(schema, 'schema')}.{quote(table, 'table name')}"


def _cols(cols: list[str]) -> str:
    return ", ".join(quote(c, "column") for c in cols)


def create_table(table: TableDef, schema: str, dialect: Dialect, target: str | None = None) -> str:
    """CREATE TABLE in the dialect. PostgreSQL's keys and indexes are separate statements
    (postgres_keys), so a bulk load builds them after the COPY."""
    target = target or table.name
    lines = [
        f"    {quote(c.name)} {c.sql_type(dialect)}{'' if c.nullable else ' NOT NULL'}"
        for c in table.columns
    ]
    if dialect == "redshift":
        # Redshift does not enforce primary keys; the planner uses them as hints.
        lines.append(f"    PRIMARY KEY ({_cols(table.primary_key)})")
    body = ",\n".join(lines)
    sql = f"CREATE TABLE {_qualified(schema_of(table, schema), target)} (\n{body}\n)"
    if dialect == "redshift":
        layout = table.redshift
        sql += f"\nDISTSTYLE {layout.diststyle.upper()}"
        if layout.distkey:
            sql += f"\nDISTKEY ({quote(layout.distkey)})"
        if layout.sortkey:
            sql += f"\nCOMPOUND SORTKEY ({_cols(layout.sortkey)})"
    return sql


def postgres_keys(table: TableDef, schema: str, target: str | None = None) -> list[str]:
    """Primary key and indexes for a PostgreSQL table, named after `target`."""
    target = target or table.name
    schema = schema_of(table, schema)
    out = []
    for suffix, cols in table.postgres_indexes().items():
        name = quote(f"{target}_{suffix}", "index name")
        if suffix == "pkey":
            out.append(
                f"ALTER TABLE {_qualified(schema, target)} ADD CONSTRAINT {name} "
                f"PRIMARY KEY ({_cols(cols)})"
            )
        else:
            out.append(f"CREATE INDEX {name} ON {_qualified(schema, target)} ({_cols(cols)})")
    return out


def ddl(table: TableDef, schema: str, dialect: Dialect, target: str | None = None) -> list[str]:
    """The complete DDL of one table in a dialect (what `lakehouse warehouse ddl` prints)."""
    if dialect == "postgres":
        return [create_table(table, schema, dialect, target), *postgres_keys(table, schema, target)]
    return [create_table(table, schema, dialect, target)]


def drop_staging(table: TableDef, schema: str) -> str:
    return f"DROP TABLE IF EXISTS {_qualified(schema_of(table, schema), staging_name(table.name))}"


def redshift_copy(table: TableDef, schema: str, manifest_uri: str, iam_role: str) -> str:
    """COPY the export's Parquet files (listed in a manifest) into the staging table. Columnar
    COPY maps by position (no column list), hence the column order contract."""
    return (
        f"COPY {_qualified(schema_of(table, schema), staging_name(table.name))}\n"
        f"FROM {literal(manifest_uri, S3_URI, 'manifest URI')}\n"
        f"IAM_ROLE {literal(iam_role, ROLE_ARN, 'IAM role')}\n"
        f"FORMAT AS PARQUET\nMANIFEST"
    )


def swap(tables: list[TableDef], schema: str, dialect: Dialect) -> list[str]:
    """Replace each live table by its staging table. Run as one transaction: readers see every
    old table or every new one, never a mix or a partial table. PostgreSQL: a DROP and a RENAME
    per table (and its indexes' renames). Redshift: the swap procedure and CALLs of it, so the
    statement count stays within one Data API batch whatever the table count; restricted
    tables, few and in their own schema, by a DROP and a RENAME each in the same batch."""
    if dialect == "redshift":
        restricted = [t for t in tables if t.restricted]
        out = redshift_swap([t.name for t in tables if not t.restricted], schema)
        out += [s for t in restricted for s in _rename_staging(t, schema)]
        if len(out) > DATA_API_MAX_STATEMENTS:
            raise ValueError(
                f"{len(tables)} tables need {len(out)} statements to swap, more than one Data "
                f"API batch takes ({DATA_API_MAX_STATEMENTS}): load them in several runs"
            )
        return out
    out = []
    for table in tables:
        out += _rename_staging(table, schema)
        staging = staging_name(table.name)
        for suffix in table.postgres_indexes():  # indexes keep their names through a rename
            out.append(
                f"ALTER INDEX {_qualified(schema_of(table, schema), f'{staging}_{suffix}')} "
                f"RENAME TO {quote(f'{table.name}_{suffix}', 'index name')}"
            )
    return out


def _rename_staging(table: TableDef, schema: str) -> list[str]:
    schema = schema_of(table, schema)
    return [
        f"DROP TABLE IF EXISTS {_qualified(schema, table.name)}",
        f"ALTER TABLE {_qualified(schema, staging_name(table.name))} "
        f"RENAME TO {quote(table.name, 'table')}",
    ]


def redshift_swap(names: list[str], schema: str) -> list[str]:
    """CREATE OR REPLACE the swap procedure (warehouse_sql/procedures/redshift_swap.sql), then
    CALL it with the table names, NAMES_PER_CALL at a time (its argument is a VARCHAR(65535)).
    One statement list, meant to run as one Data API batch (one transaction)."""
    if not names:
        return []
    for name in names:
        quote(name, "table")  # validated: the names become a literal below
    calls = [
        f"CALL {_qualified(schema, SWAP_PROCEDURE)}('{','.join(names[i : i + NAMES_PER_CALL])}')"
        for i in range(0, len(names), NAMES_PER_CALL)
    ]
    statements = [swap_procedure(schema), *calls]
    if len(statements) > DATA_API_MAX_STATEMENTS:
        raise ValueError(
            f"{len(names)} tables need {len(statements)} statements to swap, more than one Data "
            f"API batch takes ({DATA_API_MAX_STATEMENTS}): load them in several runs"
        )
    return statements


def swap_procedure(schema: str) -> str:
    """The swap procedure's CREATE OR REPLACE statement, for `schema` (comments dropped)."""
    text = (SQL_DIR / "procedures" / "redshift_swap.sql").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return body.strip().format(
        schema=quote(schema, "schema"), procedure=quote(SWAP_PROCEDURE), suffix=STAGING_SUFFIX
    )


def figures_query(tables: list[TableDef], schema: str, staging: bool = False) -> str:
    """One statement returning (table_name, figures) per table, figures being the table's
    figure_names values joined by '|' as text (exact in both dialects; parsed in Python)."""
    parts = []
    for table in tables:
        target = staging_name(table.name) if staging else table.name
        exprs = ["CAST(COUNT(*) AS VARCHAR(40))"]
        exprs += [f"COALESCE(CAST(SUM({quote(c)}) AS VARCHAR(60)), '')" for c in table.checks.sums]
        exprs += [f"CAST(COUNT(DISTINCT {quote(c)}) AS VARCHAR(40))" for c in table.checks.distinct]
        exprs += [
            f"CAST(COUNT(CASE WHEN {quote(c)} = {int(key)} THEN 1 END) AS VARCHAR(40))"
            for c, key in table.checks.unknown_members.items()
        ]
        quote(table.name)  # validated: it becomes a literal below
        joined = " || '|' || ".join(exprs)
        parts.append(
            f"SELECT '{table.name}' AS table_name, {joined} AS figures "
            f"FROM {_qualified(schema_of(table, schema), target)}"
        )
    return "\nUNION ALL\n".join(parts)


def bootstrap(dialect: Dialect, **names: str) -> list[str]:
    """The schemas, grants and default privileges of warehouse_sql/bootstrap/<dialect>.sql,
    with every placeholder (schema, database, loader, analyst, pii_reader; restricted, derived
    from schema) validated and quoted."""
    text = (SQL_DIR / "bootstrap" / f"{dialect}.sql").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    names = {**names, "restricted": restricted_schema(names["schema"])}
    quoted = {key: quote(value, key) for key, value in names.items()}
    return [s.strip().format(**quoted) for s in body.split(";") if s.strip()]
