"""Moto's server on loopback for the aws-profile contract tests, with the Redshift Data API
completed where moto leaves it short, and moto's own recorder capturing every wire call.

moto 5.2's redshift-data accepts ExecuteStatement only, leaves every statement STARTED (a
client that waits for it, as the amazon provider's hook does, waits forever), drops
WorkgroupName, has no BatchExecuteStatement and answers every query with one fixed result set.
`patch_redshift_data()` adds what the contract needs: statements finish, batches are accepted
(with their sub-statements; refused beyond the service's 40 statements), the workgroup is kept,
and a SELECT answers with the rows a test registered for it (`RESULTS`). No SQL is interpreted:
the tests assert what was sent.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DATA_API_MAX_STATEMENTS = 40  # BatchExecuteStatement's documented limit on `Sqls`

# The aws profile's variables, pointing at fake but well-formed resources.
AWS_PROFILE_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "LAKEHOUSE_BUCKET_PREFIX": "acme-lakehouse",
    "LAKEHOUSE_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/lakehouse-glue",
    "LAKEHOUSE_REDSHIFT_WORKGROUP": "lakehouse-wg",
    "LAKEHOUSE_REDSHIFT_DATABASE": "lakehouse",
    "LAKEHOUSE_REDSHIFT_SECRET_ARN": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lakehouse-loader-AbCdEf"
    ),
    "LAKEHOUSE_REDSHIFT_ADMIN_SECRET_ARN": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lakehouse-admin-GhIjKl"
    ),
    "LAKEHOUSE_REDSHIFT_COPY_ROLE_ARN": "arn:aws:iam::123456789012:role/lakehouse-redshift-copy",
    "LAKEHOUSE_SOURCE_JDBC_URL": "jdbc:postgresql://shop.abc123.eu-west-1.rds.amazonaws.com:5432/shop",
    "LAKEHOUSE_SOURCE_SECRET_ARN": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lakehouse-source-MnOpQr"
    ),
    "LAKEHOUSE_PII_KEY_SECRET_ARN": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lakehouse-pii-key-StUvWx"
    ),
    "LAKEHOUSE_SOURCE_SUBNET_ID": "subnet-0123456789abcdef0",
    "LAKEHOUSE_SOURCE_SECURITY_GROUP_ID": "sg-0123456789abcdef0",
    "LAKEHOUSE_SOURCE_AVAILABILITY_ZONE": "eu-west-1a",
}

# (pattern, rows): a statement matching `pattern` (re.search) returns `rows`, or calls
# rows(statement_sql) when it is a callable.
RESULTS: list[tuple[re.Pattern[str], list[list] | Callable[[str], list[list]]]] = []
# Called with every Data API request's statements (a batch's, or the one statement), in order.
EXECUTED: list[Callable[[list[str]], None]] = []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def patch_redshift_data() -> None:
    from moto.redshiftdata import models, responses

    cls = responses.RedshiftDataAPIServiceResponse
    if getattr(cls, "_lakehouse_patched", False):
        return

    def _new(self, sql: str | None, sqls: list[str] | None) -> models.Statement:
        statement = models.Statement(
            cluster_identifier=self._get_param("ClusterIdentifier"),
            database=self._get_param("Database"),
            db_user=self._get_param("DbUser"),
            query_parameters=self._get_param("Parameters"),
            query_string=sql if sql is not None else "; ".join(sqls or []),
            secret_arn=self._get_param("SecretArn"),
        )
        statement.status = "FINISHED"
        statement.workgroup_name = self._get_param("WorkgroupName")
        statement.statement_name = self._get_param("StatementName")
        statement.is_batch = sqls is not None
        statement.has_result_set = bool(sql and sql.lstrip().upper().startswith("SELECT"))
        statement.sub_statements = [
            {"Id": f"{statement.id}:{i}", "QueryString": q, "Status": "FINISHED"}
            for i, q in enumerate(sqls or [], start=1)
        ]
        self.redshiftdata_backend.statements[statement.id] = statement
        for hook in EXECUTED:
            hook(sqls if sqls is not None else [sql or ""])
        return statement

    def _reply(statement) -> tuple[int, dict, str]:
        return (
            200,
            {},
            json.dumps(
                {
                    "Id": statement.id,
                    "CreatedAt": statement.created_at,
                    "Database": statement.database,
                    "WorkgroupName": statement.workgroup_name,
                    "SecretArn": statement.secret_arn,
                }
            ),
        )

    def execute_statement(self):
        return _reply(_new(self, self._get_param("Sql"), None))

    def batch_execute_statement(self):
        sqls = self._get_param("Sqls") or []
        if not 1 <= len(sqls) <= DATA_API_MAX_STATEMENTS:  # the service's limit; moto has none
            message = (
                f"1 validation error detected: Value at 'sqls' failed to satisfy constraint: "
                f"Member must have length less than or equal to {DATA_API_MAX_STATEMENTS} "
                f"(got {len(sqls)})"
            )
            body = json.dumps({"__type": "ValidationException", "message": message})
            return 400, {"status": 400}, body  # moto takes the status from the headers
        return _reply(_new(self, None, sqls))

    def describe_statement(self):
        statement = self.redshiftdata_backend.describe_statement(self._get_param("Id"))
        body = dict(statement)
        body.update(
            {"WorkgroupName": statement.workgroup_name, "IsBatchStatement": statement.is_batch}
        )
        return 200, {}, json.dumps(body)

    def get_statement_result(self):
        statement = self.redshiftdata_backend.describe_statement(self._get_param("Id"))
        rows: list[list] = []
        for pattern, result in RESULTS:
            if pattern.search(statement.query_string):
                rows = result(statement.query_string) if callable(result) else result
                break

        def field(value) -> dict:
            if value is None:
                return {"isNull": True}
            if isinstance(value, bool):
                return {"booleanValue": value}
            if isinstance(value, int):
                return {"longValue": value}
            return {"stringValue": str(value)}

        records = [[field(v) for v in row] for row in rows]
        return (
            200,
            {},
            json.dumps({"Records": records, "ColumnMetadata": [], "TotalNumRows": len(records)}),
        )

    for fn in (
        execute_statement,
        batch_execute_statement,
        describe_statement,
        get_statement_result,
    ):
        setattr(cls, fn.__name__, fn)
    cls._lakehouse_patched = True


def patch_glue() -> None:
    """moto 5.2's Glue has no BatchStopJobRun: added, stopping each named run (STOPPED)."""
    from moto.glue import responses

    cls = responses.GlueResponse
    if getattr(cls, "_lakehouse_patched", False):
        return

    def batch_stop_job_run(self):
        name = self._get_param("JobName")
        stopped, errors = [], []
        for run_id in self._get_param("JobRunIds") or []:
            try:
                run = self.glue_backend.get_job_run(name, run_id)
            except Exception as exc:  # unknown run: reported, as Glue does
                errors.append({"JobName": name, "JobRunId": run_id, "ErrorDetail": str(exc)})
                continue
            run.status = "STOPPED"
            stopped.append({"JobName": name, "JobRunId": run_id})
        return json.dumps({"SuccessfulSubmissions": stopped, "Errors": errors})

    cls.batch_stop_job_run = batch_stop_job_run
    cls._lakehouse_patched = True


def hold_glue_runs() -> None:
    """Glue runs stay active (STARTING) until stopped; moto's default ends them at the first
    read."""
    from moto.moto_api import state_manager

    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**9})


def release_glue_runs() -> None:
    from moto.moto_api import state_manager

    state_manager.unset_transition("glue::job_run")


@dataclass
class Call:
    service: str
    action: str
    params: dict


class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1 with the patch above and recording on."""

    def __init__(self, recording_path) -> None:
        from moto.moto_api import recorder
        from moto.server import ThreadedMotoServer

        patch_redshift_data()
        patch_glue()
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._recorder = recorder
        recorder._location = str(recording_path)  # moto reads its path from env at import only
        recorder.reset_recording()

    def aws_env(self) -> dict[str, str]:
        """The environment for boto3 and the aws profile to talk to this server."""
        return {
            **AWS_PROFILE_ENV,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self) -> MotoServer:
        import urllib.request

        self._server.start()
        # moto's backends live in this process: forget what an earlier server instance held.
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10
        )
        self._recorder.start_recording()
        return self

    def stop(self) -> None:
        self._recorder.stop_recording()
        self._server.stop()

    def reset(self) -> None:
        self.forget_requests()
        RESULTS.clear()
        EXECUTED.clear()

    def forget_requests(self) -> None:
        self._recorder.reset_recording()

    def requests(self) -> list[dict]:
        """Every recorded request: method, url, headers and decoded body, in arrival order."""
        out = []
        for line in self._recorder.download_recording().splitlines():
            entry = json.loads(line)
            body = entry["body"] or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode(errors="replace")
            out.append({**entry, "body": body})
        return out

    def mutations(self) -> list[str]:
        """The writing calls seen: S3 PUT/POST/DELETE and JSON actions that create, update,
        put, delete or execute."""
        out = []
        for r in self.requests():
            target = r["headers"].get("X-Amz-Target", "")
            if target:
                action = target.partition(".")[2]
                if action.startswith(
                    ("Create", "Update", "Put", "Delete", "Batch", "Execute", "Start")
                ):
                    out.append(action)
            elif r["method"] in ("PUT", "POST", "DELETE"):
                out.append(f"{r['method']} {r['url'].split('?')[0]}")
        return out

    def calls(self, service_prefix: str = "RedshiftData.") -> list[Call]:
        """The recorded JSON-protocol calls (X-Amz-Target), in the order they arrived."""
        out = []
        for line in self._recorder.download_recording().splitlines():
            entry = json.loads(line)
            target = entry["headers"].get("X-Amz-Target", "")
            if not target.startswith(service_prefix):
                continue
            body = entry["body"]
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode()
            service, _, action = target.partition(".")
            out.append(Call(service, action, json.loads(body or "{}")))
        return out


def upload_gold_export(gold_export, s3, bucket: str) -> None:
    """The reference GOLD export (Parquet, from the local lake) into an S3 bucket on moto."""
    local = gold_export.object_store.root_path / gold_export.zones.gold / "_export"
    for path in sorted(p for p in local.rglob("*") if p.suffix in (".parquet", ".json")):
        s3.upload_file(str(path), bucket, f"_export/{path.relative_to(local)}")


class CopiedWarehouse:
    """Redshift as far as the loader uses it, on DuckDB, fed by what the loader sends: a
    `COPY ... FROM '<manifest>' ... FORMAT AS PARQUET MANIFEST` loads the files the manifest
    lists (read back from the S3 server); DROP TABLE and ALTER TABLE ... RENAME run as sent;
    CREATE TABLE (Redshift DDL) is left to the COPY; a CALL of the swap procedure does what
    the procedure does; the validation query runs on what was
    loaded. So the figures the loader checks come from the copied files through another engine,
    not from the loader's own reading of the export. `lose_rows` makes the COPY of a table drop
    that many rows, as a COPY cut short would."""

    COPY = re.compile(r"^COPY (\"(\w+)\"\.\"(\w+)__staging\")\s+FROM '(s3://[^']+)'")
    SCHEMA = re.compile(r'^(?:DROP TABLE IF EXISTS|ALTER TABLE) "(\w+)"\.')
    PROCEDURE = re.compile(r'^CREATE OR REPLACE PROCEDURE "(\w+)"\."(\w+)"\(')
    CALL = re.compile(r"^CALL \"(\w+)\"\.\"(\w+)\"\('([\w,]+)'\)$")

    def __init__(self, s3, lose_rows: dict[str, int] | None = None) -> None:
        import tempfile

        import duckdb

        self.s3 = s3
        self.lose_rows = lose_rows or {}
        self.db = duckdb.connect()
        self._folder = tempfile.TemporaryDirectory(prefix="copied-")
        self.files: dict[str, list[Path]] = {}  # table -> the files its COPY read
        self.procedures: set[tuple[str, str]] = set()  # (schema, name) created by a batch

    def install(self) -> CopiedWarehouse:
        EXECUTED.append(self.execute)
        RESULTS.append((re.compile(r"^\s*SELECT", re.I), self.query))
        return self

    def _copy(self, staging: str, schema: str, table: str, manifest_uri: str) -> None:
        bucket, _, key = manifest_uri.removeprefix("s3://").partition("/")
        manifest = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        files = []
        for i, entry in enumerate(manifest["entries"]):
            f_bucket, _, f_key = entry["url"].removeprefix("s3://").partition("/")
            path = Path(self._folder.name) / f"{table}-{i}.parquet"
            self.s3.download_file(f_bucket, f_key, str(path))
            files.append(path)
        listed = ", ".join(f"'{f}'" for f in files)
        self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.db.execute(
            f"CREATE OR REPLACE TABLE {staging} AS SELECT * FROM read_parquet([{listed}])"
        )
        lost = self.lose_rows.get(table, 0)
        if lost:
            self.db.execute(
                f"DELETE FROM {staging} WHERE rowid IN (SELECT rowid FROM {staging} LIMIT {lost})"
            )
        self.files[table] = files

    def execute(self, statements: list[str]) -> None:
        for statement in statements:
            text = statement.strip()
            copy = self.COPY.match(text)
            schema = self.SCHEMA.match(text)
            procedure = self.PROCEDURE.match(text)
            call = self.CALL.match(text)
            if copy:
                self._copy(*copy.groups())
            elif schema:
                self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema.group(1)}"')
                self.db.execute(text)
            elif procedure:
                self.procedures.add(procedure.groups())
            elif call:
                self._swap(*call.groups())

    def _swap(self, schema: str, procedure: str, names: str) -> None:
        """What the swap procedure does (its PL/pgSQL runs for real on PostgreSQL in
        test_warehouse_postgres.py): per name, drop the live table and rename the staging one,
        all or nothing. Calling a procedure the batch did not create fails, as in Redshift."""
        if (schema, procedure) not in self.procedures:
            raise RuntimeError(f"procedure {schema}.{procedure} does not exist")
        self.db.execute("BEGIN")
        try:
            for name in names.split(","):
                self.db.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
                self.db.execute(f'ALTER TABLE "{schema}"."{name}__staging" RENAME TO "{name}"')
        except Exception:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def query(self, statement: str) -> list[list]:
        return [list(row) for row in self.db.execute(statement).fetchall()]

    def rows(self, qualified: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]

    def rows_in_files(self, table: str) -> int:
        """The rows of the Parquet files the COPY of `table` read, from the files' footers."""
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files[table])

    def tables(self, schema: str) -> set[str]:
        found = self.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]
        ).fetchall()
        return {name for (name,) in found}
