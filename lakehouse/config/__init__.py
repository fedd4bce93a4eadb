"""The profile switch: `LAKEHOUSE_PROFILE=local|embedded|aws` selects config/profiles/<name>.yaml.

This is the one place where a profile is read. Values may reference the environment as
`${VAR}` (or `${VAR:-default}`); the environment wins, then `.env`, then `.env.example` (the
documented local defaults). Every error names the file and the key so a bad profile fails
before anything runs.
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lakehouse.paths import CONFIG_DIR, REPO_ROOT

PROFILES_DIR = CONFIG_DIR / "profiles"
# The variables through which a local launcher hands a Spark job a database login and the key
# of GOLD's pseudonymous user_key. Their names hold "secret", so Airflow's secrets masker hides
# their values in the operator's rendered fields (env_vars) and in task logs.
JOB_LOGIN_VAR = "LAKEHOUSE_JDBC_LOGIN_SECRET"
JOB_PII_KEY_VAR = "LAKEHOUSE_PII_KEY_SECRET"
PII_KEY_MIN_CHARS = 32
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A profile file is missing, malformed, or references an unset variable."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Store(_Strict):
    kind: Literal["s3"]
    endpoint_url: str | None = None  # None (or "") means AWS's own endpoint
    region: str = "us-east-1"
    access_key_id: str | None = None  # None means the standard AWS credential chain
    secret_access_key: str | None = None

    @field_validator("endpoint_url", "access_key_id", "secret_access_key", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        # `${AWS_ENDPOINT_URL:-}` in a profile: an empty variable means "not set".
        return None if value == "" else value

    def uri(self, bucket: str, key: str = "") -> str:
        return f"s3://{bucket}/{key}"

    def spark_uri(self, bucket: str, key: str = "") -> str:
        """Through Hadoop's S3A connector (a Spark cluster with hadoop-aws)."""
        return f"s3a://{bucket}/{key}"


class FilesystemStore(_Strict):
    kind: Literal["filesystem"]
    root: Path

    @property
    def root_path(self) -> Path:
        return self.root if self.root.is_absolute() else (REPO_ROOT / self.root)

    def uri(self, bucket: str, key: str = "") -> str:
        return f"file://{self.root_path / bucket}/{key}"

    spark_uri = uri


class Zones(_Strict):
    """One bucket per medallion zone (a directory under the root for the filesystem store)."""

    raw: str
    bronze: str
    silver: str
    gold: str
    quarantine: str
    metrics: str


class SparkCluster(_Strict):
    kind: Literal["standalone", "local"]
    master: str
    driver_memory: str = "1g"
    executor_memory: str = "1g"
    executor_cores: int = 1
    # Extra JVM options of each job's driver and of its executors (spark-submit's
    # spark.driver/executor.extraJavaOptions), e.g. the JIT settings of short-lived jobs.
    driver_java_options: str = ""
    executor_java_options: str = ""

    def location(self, store: S3Store | FilesystemStore, bucket: str, key: str = "") -> str:
        return store.spark_uri(bucket, key)


class GlueSpark(_Strict):
    kind: Literal["glue"]
    glue_version: str
    job_prefix: str = "lakehouse"  # Glue job names: <job_prefix>-<job script stem with dashes>
    artifacts_bucket: str  # job scripts and the job library (`lakehouse deploy` uploads them)
    artifacts_prefix: str = "glue"
    # Glue stops a job run this many minutes before its Airflow task's execution timeout
    # (config/pipelines.yaml), and the task's trigger waits this long after it: the Glue run
    # ends first, the task reports it, and no run outlives its task.
    stop_margin_minutes: int = Field(default=5, ge=1)
    iam_role: str
    worker_type: str = "G.1X"
    number_of_workers: int = 2

    def location(self, store: S3Store | FilesystemStore, bucket: str, key: str = "") -> str:
        # s3:// on Glue: its EMRFS connector, the one AWS documents and tunes.
        return store.uri(bucket, key)


class Login(_Strict):
    user: str
    password: str


class PostgresDB(_Strict):
    host: str
    port: int
    database: str
    user: str
    password: str

    def dsn(self, database: str | None = None, login: Login | None = None) -> str:
        login = login or Login(user=self.user, password=self.password)
        return (
            f"host={self.host} port={self.port} dbname={database or self.database} "
            f"user={login.user} password={login.password}"
        )

    def sqlalchemy_url(self, database: str | None = None) -> str:
        return (
            f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{database or self.database}"
        )

    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def job_login(self) -> tuple[str, dict[str, str]]:
        """How a Spark job gets this login (spark_jobs.runtime.login): a reference to an
        environment variable, and that variable for the launcher to set."""
        doc = json.dumps({"username": self.user, "password": self.password})
        return f"env:{JOB_LOGIN_VAR}", {JOB_LOGIN_VAR: doc}

    def glue_connection(self) -> dict[str, Any] | None:
        """The Glue connection a Glue job reaches it through (none: not reached from Glue)."""
        return None


class GlueSourceDB(_Strict):
    """The operational PostgreSQL (e.g. Amazon RDS) as Glue jobs reach it: through a Glue JDBC
    connection that `lakehouse deploy` creates (the network path: subnet, security group, zone)
    with the login in a Secrets Manager secret, by reference only (a JSON document with
    `username` and `password`, the shape RDS-managed secrets have)."""

    kind: Literal["glue_connection"]
    connection_name: str = "lakehouse-operational"
    url: str = Field(pattern=r"^jdbc:postgresql://[^/]+/\w+$")  # jdbc:postgresql://host:port/db
    secret_arn: str = Field(pattern=r"^arn:aws[a-z\-]*:secretsmanager:")
    subnet_id: str
    security_group_id: str
    availability_zone: str

    def jdbc_url(self) -> str:
        return self.url

    def job_login(self) -> tuple[str, dict[str, str]]:
        return self.secret_arn, {}

    def dsn(self, database: str | None = None, login: Login | None = None) -> str:
        raise ConfigError(
            f"source_db: {self.url} is reached by Glue jobs through the connection "
            f"{self.connection_name!r}, not from this machine (its login stays in Secrets "
            "Manager); load it with your own tools"
        )

    def glue_connection(self) -> dict[str, Any] | None:
        return {
            "Name": self.connection_name,
            "ConnectionType": "JDBC",
            "ConnectionProperties": {"JDBC_CONNECTION_URL": self.url, "SECRET_ID": self.secret_arn},
            "PhysicalConnectionRequirements": {
                "SubnetId": self.subnet_id,
                "SecurityGroupIdList": [self.security_group_id],
                "AvailabilityZone": self.availability_zone,
            },
        }


class PostgresWarehouse(PostgresDB):
    """`user` owns the databases and runs the bootstrap DDL; `loader` writes the analytics
    schema and its restricted schema and nothing else (the pipeline's login); `analyst` reads
    the analytics schema; `pii_reader` reads the restricted one (personal data)."""

    kind: Literal["postgres"]
    schema_name: str = Field(alias="schema")
    loader: Login
    analyst: Login
    pii_reader: Login


class RedshiftWarehouse(_Strict):
    """Redshift Serverless through the Data API. `secret_arn` holds the loader's login and
    `admin_secret_arn` the login that may create the schema and grant on it, used only by
    `lakehouse deploy` for the bootstrap (references, never the secrets); `iam_role` is the
    role COPY assumes to read the gold bucket."""

    kind: Literal["redshift"]
    workgroup: str
    database: str
    secret_arn: str
    admin_secret_arn: str | None = None
    iam_role: str
    schema_name: str = Field(alias="schema")
    loader_user: str = "lakehouse_loader"
    analyst_role: str = "lakehouse_analyst"
    pii_role: str = "lakehouse_pii_reader"  # reads the restricted schema (personal data)

    @field_validator("admin_secret_arn", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value


class _EmptyIsUnset(_Strict):
    """A section whose `${VAR:-}` values mean "not set" when the variable is empty."""

    @model_validator(mode="before")
    @classmethod
    def _empty_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if v == "" else v) for k, v in data.items()}
        return data


class Pseudonymisation(_EmptyIsUnset):
    """The key of GOLD's pseudonymous user_key (HMAC-SHA256 of the user id): the key itself,
    from the environment (local stacks; .env.example holds a throwaway default), or the ARN of
    a Secrets Manager secret whose SecretString is the key (aws; the Glue job reads it). Never
    written in code or in a job's arguments."""

    key: str | None = None
    secret_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z\-]*:secretsmanager:")

    @model_validator(mode="after")
    def _one_source(self) -> Pseudonymisation:
        if (self.key is None) == (self.secret_arn is None):
            raise ValueError("set exactly one of 'key' and 'secret_arn'")
        if self.key is not None and len(self.key) < PII_KEY_MIN_CHARS:
            raise ValueError(
                f"'key' has {len(self.key)} characters; a keyed hash needs at least "
                f"{PII_KEY_MIN_CHARS} (e.g. `openssl rand -hex 32`)"
            )
        return self

    def job_key(self) -> tuple[str, dict[str, str]]:
        """How a Spark job gets the key (spark_jobs.runtime.secret_text): a reference, and the
        environment variable for the launcher to set (none on Glue)."""
        if self.secret_arn:
            return self.secret_arn, {}
        return f"env:{JOB_PII_KEY_VAR}", {JOB_PII_KEY_VAR: str(self.key)}


class AirflowSettings(_Strict):
    metadata_database: str = "airflow"
    # Where the REST API answers: loopback for the native services, the api-server's
    # service name inside the Compose network.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    # profile: the CLI and the native services derive Airflow's settings (home, metadata DB,
    # API URL, JWT secret) from this profile. environment: they are already set in the
    # process environment (the Compose containers) and only the connections are added.
    settings_from: Literal["profile", "environment"] = "profile"
    # The UI and REST API login (simple auth manager, Admin role) of the native services.
    admin_user: str = "admin"
    admin_password: str | None = None


class AlertTransport(_EmptyIsUnset):
    """Where alerts go in this environment (config/pipelines.yaml says who gets them)."""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    webhook_url: str | None = None  # POSTed a JSON alert; empty means no webhook
    sns_topic_arn: str | None = None  # published a text alert (aws); empty means no SNS


class Profile(_Strict):
    name: str
    object_store: Annotated[S3Store | FilesystemStore, Field(discriminator="kind")]
    zones: Zones
    spark: Annotated[SparkCluster | GlueSpark, Field(discriminator="kind")]
    warehouse: Annotated[PostgresWarehouse | RedshiftWarehouse, Field(discriminator="kind")]
    # The operational DB: reached directly (local stacks) or through a Glue connection (aws).
    source_db: PostgresDB | GlueSourceDB | None = None
    airflow: AirflowSettings = AirflowSettings()
    alerts: AlertTransport = AlertTransport()
    pseudonymisation: Pseudonymisation

    def uri(self, zone: str, key: str = "") -> str:
        """The object-store URI of `key` in a zone, as boto3/pyarrow see it."""
        return self.object_store.uri(getattr(self.zones, zone), key)

    def spark_uri(self, zone: str, key: str = "") -> str:
        """The same location as the profile's Spark sees it: s3a:// on a Spark cluster
        (hadoop-aws), s3:// on Glue."""
        return self.spark.location(self.object_store, getattr(self.zones, zone), key)

    @cached_property
    def bucket_names(self) -> list[str]:
        return list(self.zones.model_dump().values())


def _environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for name in (".env.example", ".env"):
        path = REPO_ROOT / name
        if path.is_file():
            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    env.update(os.environ)
    return env


def _expand(node: Any, env: dict[str, str], path: str, source: Path) -> Any:
    if isinstance(node, dict):
        return {k: _expand(v, env, f"{path}.{k}" if path else k, source) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, env, f"{path}[{i}]", source) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if default is not None and env.get(var, "") == "":
                return default  # ${VAR:-default}
            if var not in env or env[var] == "":
                raise ConfigError(
                    f"{source}: key '{path}' needs environment variable {var}, which is not "
                    f"set (set it in the environment or in .env; see .env.example)"
                )
            return env[var]

        return _VAR.sub(sub, node)
    return node


def profile_name() -> str:
    return _environment().get("LAKEHOUSE_PROFILE", "local")


def load_profile(name: str | None = None, path: Path | None = None) -> Profile:
    """Load and validate a profile; raises ConfigError naming the file and key on any fault."""
    name = name or profile_name()
    source = path or PROFILES_DIR / f"{name}.yaml"
    if not source.is_file():
        known = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
        raise ConfigError(
            f"{source}: no such profile file (LAKEHOUSE_PROFILE={name!r}; known: {known})"
        )
    expanded = read_config(source)
    try:
        return Profile.model_validate(expanded)
    except ValidationError as exc:
        raise validation_error(source, exc) from exc


def read_config(source: Path) -> dict[str, Any]:
    """A YAML config file as a mapping, `${VAR}` / `${VAR:-default}` expanded from the
    environment; raises ConfigError naming the file (and the key, for a missing variable)."""
    try:
        raw = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    return _expand(raw, _environment(), "", source)


def validation_error(source: Path, exc: ValidationError) -> ConfigError:
    """One message naming the file and every failing key."""
    problems = "; ".join(
        f"key '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
    )
    return ConfigError(f"{source}: {problems}")
