"""The warehouse DDL: one definition per gold table, rendered for PostgreSQL and Redshift,
parsed back with sqlglot in each dialect and checked against the gold schemas."""

from __future__ import annotations

import pytest
import sqlglot
from pyspark.sql import types as T
from sqlglot import exp

from lakehouse.config import ConfigError
from lakehouse.warehouse import sql as wsql
from spark_jobs.silver_to_gold import SCHEMAS

DEFS = wsql.table_defs()
SCHEMA = "analytics"


def spark_type(logical: str) -> type:
    base = logical.split("(")[0]
    return {
        "bigint": T.LongType,
        "integer": T.IntegerType,
        "smallint": T.ShortType,
        "boolean": T.BooleanType,
        "date": T.DateType,
        "timestamp": T.TimestampType,
        "double": T.DoubleType,
        "varchar": T.StringType,
        "decimal": T.DecimalType,
    }[base]


def test_every_gold_table_has_exactly_one_definition():
    assert sorted(DEFS) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", sorted(DEFS))
def test_columns_equal_the_gold_schema(name):
    definition, schema = DEFS[name], SCHEMAS[name]
    assert definition.column_names == [f.name for f in schema.fields]  # order: COPY by position
    for column, field in zip(definition.columns, schema.fields, strict=True):
        assert isinstance(field.dataType, spark_type(column.type)), (name, column)
        assert column.nullable == field.nullable, (name, column.name)
        if isinstance(field.dataType, T.DecimalType):
            assert column.type == f"decimal({field.dataType.precision},{field.dataType.scale})"


def _create(statement: str, dialect: str) -> exp.Create:
    parsed = sqlglot.parse_one(statement, read=dialect)
    assert isinstance(parsed, exp.Create), statement
    return parsed


@pytest.mark.parametrize("dialect", wsql.DIALECTS)
@pytest.mark.parametrize("name", sorted(DEFS))
def test_rendered_ddl_parses_with_the_gold_column_list(name, dialect):
    definition = DEFS[name]
    statements = wsql.ddl(definition, SCHEMA, dialect)
    create = _create(statements[0], dialect)
    columns = [c for c in create.this.expressions if isinstance(c, exp.ColumnDef)]
    assert [c.name for c in columns] == [f.name for f in SCHEMAS[name].fields]
    not_null = {
        c.name
        for c in columns
        if any(isinstance(k.kind, exp.NotNullColumnConstraint) for k in c.constraints)
    }
    assert not_null == {f.name for f in SCHEMAS[name].fields if not f.nullable}
    for statement in statements[1:]:  # PostgreSQL keys and indexes
        sqlglot.parse_one(statement, read=dialect)
    if dialect == "redshift":
        props = {type(p) for p in create.args["properties"].expressions}
        assert exp.DistStyleProperty in props
        assert (exp.SortKeyProperty in props) == bool(definition.redshift.sortkey)
        assert (exp.DistKeyProperty in props) == (definition.redshift.diststyle == "key")
    else:
        assert any("PRIMARY KEY" in s for s in statements[1:])
        assert "DISTSTYLE" not in " ".join(statements)


@pytest.mark.parametrize("dialect", wsql.DIALECTS)
def test_load_statements_parse_in_both_dialects(dialect):
    tables = list(DEFS.values())
    for statement in wsql.swap(tables, SCHEMA, dialect):
        sqlglot.parse_one(statement, read=dialect)
    query = sqlglot.parse_one(wsql.figures_query(tables, SCHEMA, staging=True), read=dialect)
    assert len(list(query.find_all(exp.Select))) == len(tables)
    assert len(wsql.bootstrap(dialect, **NAMES[dialect])) >= 5


NAMES = {
    dialect: {
        "schema": SCHEMA,
        "loader": "lakehouse_loader",
        "analyst": "lakehouse_analyst",
        "pii_reader": "lakehouse_pii_reader",
        **({"database": "warehouse"} if dialect == "postgres" else {}),
    }
    for dialect in wsql.DIALECTS
}


@pytest.mark.parametrize("dialect", wsql.DIALECTS)
def test_personal_data_lives_in_the_restricted_schema_only_the_pii_reader_reads(dialect):
    """In both dialects' DDL: every column the registry marks pii is in restricted tables only;
    those are created, staged, swapped and counted in analytics_restricted; the bootstrap gives
    the pii reader that schema and the analyst nothing in it (its grants and default
    privileges name the analytics schema alone)."""
    from lakehouse.config.registry import registry

    marked = {c for cols in registry().pii_columns().values() for c in cols}
    restricted = [t for t in DEFS.values() if t.restricted]
    assert [t.name for t in restricted] == ["user_pii"]
    for table in DEFS.values():
        if not table.restricted:
            assert not marked & set(table.column_names), table.name
    assert marked <= set(DEFS["user_pii"].column_names)
    pii = DEFS["user_pii"]
    where = '"analytics_restricted"."user_pii'
    assert where in wsql.ddl(pii, SCHEMA, dialect)[0]
    assert all(where in s for s in wsql.swap([pii], SCHEMA, dialect))
    assert where in wsql.figures_query([pii], SCHEMA)
    assert '"analytics_restricted"' not in " ".join(wsql.ddl(DEFS["dim_users"], SCHEMA, dialect))
    statements = wsql.bootstrap(dialect, **NAMES[dialect])
    for statement in statements:
        sqlglot.parse_one(statement, read=dialect)
    on_restricted = [s for s in statements if '"analytics_restricted"' in s]
    granted = [s for s in on_restricted if s.startswith(("GRANT", "ALTER DEFAULT"))]
    assert granted and all(
        '"lakehouse_pii_reader"' in s or s.endswith('TO "lakehouse_loader"') for s in granted
    )
    assert not any('"lakehouse_analyst"' in s for s in granted)
    assert any(s.startswith("GRANT SELECT ON ALL TABLES") for s in granted)
    assert any(s.startswith("ALTER DEFAULT PRIVILEGES") for s in granted)
    analyst = [
        s for s in statements if '"lakehouse_analyst"' in s and s.startswith(("GRANT", "ALTER"))
    ]
    assert analyst and all('"analytics_restricted"' not in s for s in analyst)


def test_redshift_copy_names_the_role_and_parquet():
    copy = wsql.redshift_copy(
        DEFS["fact_transactions"],
        SCHEMA,
        "s3://gold-bucket/_manifests/fact_transactions.manifest",
        "arn:aws:iam::123456789012:role/lakehouse-redshift-copy",
    )
    assert copy.startswith('COPY "analytics"."fact_transactions__staging"\n')
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/lakehouse-redshift-copy'" in copy
    assert copy.endswith("FORMAT AS PARQUET\nMANIFEST")


@pytest.mark.parametrize(
    "bad", ['x"; DROP TABLE y; --', "Analytics", "1table", "a b", "", "x" * 64, "naïve"]
)
def test_unsafe_identifiers_are_rejected(bad):
    with pytest.raises(wsql.UnsafeIdentifier):
        wsql.quote(bad)
    with pytest.raises(wsql.UnsafeIdentifier):
        wsql.ddl(DEFS["dim_date"], bad, "postgres")


def test_unsafe_literals_are_rejected():
    with pytest.raises(wsql.UnsafeIdentifier, match="IAM role"):
        wsql.redshift_copy(DEFS["dim_date"], SCHEMA, "s3://b-1/k", "arn' OR '1'='1")
    with pytest.raises(wsql.UnsafeIdentifier, match="manifest URI"):
        wsql.redshift_copy(DEFS["dim_date"], SCHEMA, "s3://b/k'; --", "arn:aws:iam::1:role/x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "description: d\ncolumns:\n  - a: bigint not null\nprimary_key: [b]\n",
            "primary_key: unknown columns ['b']",
        ),
        ("description: d\ncolumns:\n  - a: number\nprimary_key: [a]\n", "unknown type 'number'"),
        (
            "description: d\ncolumns:\n  - a: double not null\nprimary_key: [a]\n"
            "checks: {sums: [a]}\n",
            "only integer and decimal columns can be summed",
        ),
        (
            "description: d\ncolumns:\n  - a: bigint not null\nprimary_key: [a]\n"
            "redshift: {diststyle: key}\n",
            "distkey is required",
        ),
        ("description: d\ncolumns:\n  - a: bigint\nprimary_key: [a]\n", "must be `not null`"),
        (
            "description: d\ncolumns:\n  - Bad-Name: bigint not null\nprimary_key: [Bad-Name]\n",
            "is not allowed",
        ),
        (
            "description: d\ncolumns:\n  - a: bigint not null\nprimary_key: [a]\nextra: 1\n",
            "key 'extra'",
        ),
        (
            "description: d\ncolumns:\n  - a: bigint not null\nprimary_key: [a]\n"
            "checks: {unknown_members: {b: -1}}\n",
            "checks.unknown_members: unknown columns ['b']",
        ),
    ],
)
def test_a_bad_definition_names_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "some_table.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="some_table.yaml") as info:
        wsql.load_table_def(path)
    assert message in str(info.value)


def test_postgres_indexes_stand_in_for_the_redshift_layout():
    indexes = DEFS["fact_transactions"].postgres_indexes()
    assert indexes == {"pkey": ["transaction_id"], "sortkey": ["date_key"], "distkey": ["user_id"]}
    assert DEFS["daily_revenue"].postgres_indexes() == {"pkey": ["date_key", "currency"]}


def test_the_redshift_swap_fits_one_data_api_batch_at_any_table_count():
    template = DEFS["daily_event_counts"]
    for count in (1, 17, 45, 2500):
        names = [f"t{i:04d}" for i in range(count)]
        statements = wsql.swap(
            [template.model_copy(update={"name": n}) for n in names], SCHEMA, "redshift"
        )
        assert len(statements) <= wsql.DATA_API_MAX_STATEMENTS
        assert statements[0] == wsql.swap_procedure(SCHEMA)
        called = []
        for call in statements[1:]:
            prefix = f'CALL "{SCHEMA}"."{wsql.SWAP_PROCEDURE}"(\''
            assert call.startswith(prefix) and call.endswith("')"), call
            argument = call.removeprefix(prefix).removesuffix("')")
            assert len(argument) <= 65535  # the procedure's VARCHAR(65535)
            called += argument.split(",")
        assert called == names
    with pytest.raises(wsql.UnsafeIdentifier, match="table"):
        wsql.redshift_swap(["fine", "bad'); DROP TABLE x; --"], SCHEMA)
    too_many = [f"t{i}" for i in range(wsql.NAMES_PER_CALL * wsql.DATA_API_MAX_STATEMENTS)]
    with pytest.raises(ValueError, match="more than one Data API batch takes"):
        wsql.redshift_swap(too_many, SCHEMA)


def test_the_swap_procedure_names_its_schema_and_the_staging_suffix():
    text = wsql.swap_procedure(SCHEMA)
    assert text.startswith(f'CREATE OR REPLACE PROCEDURE "{SCHEMA}"."{wsql.SWAP_PROCEDURE}"(')
    assert f"'DROP TABLE IF EXISTS \"{SCHEMA}\".'" in text
    assert f"'{wsql.STAGING_SUFFIX}'" in text
    assert "{" not in text and "--" not in text
    with pytest.raises(wsql.UnsafeIdentifier, match="schema"):
        wsql.swap_procedure('x"; DROP')
