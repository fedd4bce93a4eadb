"""The package's layers and the direction of imports between them.

Each package may import the ones below it, never one above or beside it; within a package,
modules import each other freely. Function-level imports count: a lazy import is a dependency
all the same. spark_jobs/ (shipped to Glue) imports nothing of lakehouse/ or seed_data/.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[2]
LAYERS = [
    {"paths"},  # where things are on disk
    {"config"},  # profile, registry, pipelines settings, versions (pydantic models)
    {"backends"},  # the platform behind each role: store, Spark runner, warehouse
    {"ingest", "warehouse"},  # RAW -> BRONZE; GOLD -> warehouse (neither imports the other)
    {"report"},  # a run's metrics, summary and HTML report
    {"orchestration"},  # the DAGs and what their tasks call
    {"platform"},  # native services, Airflow's environment and REST client, AWS deploy
    {"cli"},  # the `lakehouse` command (and `python -m lakehouse`); nothing imports it
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lakehouse":
                out += [(node.lineno, f"lakehouse.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
    return out


def _part(module: str) -> str:
    return module.split(".")[1]


def test_every_module_belongs_to_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in (ROOT / "lakehouse").iterdir()}
    parts -= {"__init__", "__main__", "__pycache__"}
    assert parts == set(LAYER)


def test_imports_point_down_the_layers():
    wrong = []
    for path in sorted((ROOT / "lakehouse").rglob("*.py")):
        rel = path.relative_to(ROOT / "lakehouse")
        own = {"__main__": "cli"}.get(rel.parts[0].removesuffix(".py"), rel.parts[0])
        own = own.removesuffix(".py")
        if own == "__init__":
            continue
        for line, module in _imports(path):
            if not module.startswith("lakehouse.") or _part(module) == own:
                continue
            if LAYER[_part(module)] >= LAYER[own]:
                wrong.append(f"lakehouse/{rel}:{line} ({own}) imports {module}")
    assert wrong == []


def test_the_spark_jobs_stand_alone():
    wrong = [
        f"{p.relative_to(ROOT)}:{line} {module}"
        for p in sorted((ROOT / "spark_jobs").rglob("*.py"))
        for line, module in _imports(p)
        if module.split(".")[0] in ("lakehouse", "seed_data", "harness")
    ]
    assert wrong == []


def test_the_duckdb_peer_keeps_its_own_rules():
    """The benchmark's peer is a second implementation checked against the generator's
    manifest; importing the jobs' constants would make a wrong one wrong in both."""
    path = ROOT / "benchmarks" / "peer_duckdb.py"
    shared = [m for _, m in _imports(path) if m.split(".")[0] in ("spark_jobs", "lakehouse")]
    assert shared == []
