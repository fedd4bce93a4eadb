"""The runtime version matrix (config/versions.yaml) and the Maven-driven jar fetch.

Spark's own `--packages` resolution goes through Ivy, which ignores the machine's Maven
registry settings; Maven itself honours them, so the jars are fetched with `mvn` into one
folder and handed to Spark as local paths.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel

from lakehouse.paths import CONFIG_DIR, jars_dir


class Runtime(BaseModel):
    spark: str
    scala: str
    python: str
    java: str
    delta: str
    hadoop: str
    jars: list[str]

    def jar_files(self, folder: Path | None = None) -> list[Path]:
        folder = folder or jars_dir()
        return [folder / _jar_name(coord) for coord in self.jars]


class VersionMatrix(BaseModel):
    default: str
    runtimes: dict[str, Runtime]


def _jar_name(coordinate: str) -> str:
    _group, artifact, version = coordinate.split(":")
    return f"{artifact}-{version}.jar"


def load_matrix(path: Path = CONFIG_DIR / "versions.yaml") -> VersionMatrix:
    return VersionMatrix.model_validate(yaml.safe_load(path.read_text()))


def runtime(name: str | None = None) -> Runtime:
    matrix = load_matrix()
    key = name or matrix.default
    if key not in matrix.runtimes:
        raise KeyError(
            f"config/versions.yaml: no runtime {key!r}; known: {sorted(matrix.runtimes)}"
        )
    return matrix.runtimes[key]


def missing_jars(rt: Runtime | None = None) -> list[Path]:
    return [p for p in (rt or runtime()).jar_files() if not p.is_file()]


def fetch_jars(rt: Runtime | None = None) -> list[Path]:
    """Copy each jar of the runtime into .stack/jars with `mvn dependency:copy` (idempotent)."""
    rt = rt or runtime()
    folder = jars_dir()
    folder.mkdir(parents=True, exist_ok=True)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("mvn not found: install Maven (Debian: apt-get install maven)")
    for coordinate, target in zip(rt.jars, rt.jar_files(folder), strict=True):
        if target.is_file():
            continue
        cmd = [
            mvn,
            "-q",
            "-B",  # batch mode: no progress bars
            "-Dstyle.color=never",  # no terminal escape codes in the demo's or CI's output
            "dependency:copy",
            f"-Dartifact={coordinate}",
            f"-DoutputDirectory={folder}",
        ]
        print(f"fetching {coordinate}", file=sys.stderr)
        subprocess.run(cmd, check=True)
        if not target.is_file():
            raise RuntimeError(f"mvn ran but {target} is missing (artifact {coordinate})")
    return rt.jar_files(folder)
