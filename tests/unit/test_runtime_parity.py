"""Parity guard: what runs locally is the runtime the aws profile's Glue version runs (Spark,
Delta, Python, Scala, Java, Hadoop), so a job that passes here meets the same libraries on
Glue. Fails when a pin or the Glue version moves without the other."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pyspark
from moto_aws import AWS_PROFILE_ENV

from lakehouse.config import load_profile
from lakehouse.config.versions import load_matrix, runtime
from lakehouse.platform.airflow_env import java_home


def glue_runtime(monkeypatch):
    for key, value in AWS_PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    name = f"glue-{load_profile('aws').spark.glue_version}"
    assert name in load_matrix().runtimes, f"config/versions.yaml has no {name} row"
    assert load_matrix().default == name, "the local default runtime is not the aws profile's"
    return runtime(name)


def test_spark_delta_python_scala_and_hadoop_match_the_glue_version(monkeypatch):
    row = glue_runtime(monkeypatch)
    assert pyspark.__version__ == row.spark
    assert importlib.metadata.version("delta-spark") == row.delta
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == row.python
    scala = {m.group(1) for j in row.jars for m in [re.search(r"_(2\.\d+):", j)] if m}
    assert scala == {row.scala}
    assert f"org.apache.hadoop:hadoop-aws:{row.hadoop}" in row.jars
    jars = Path(pyspark.__file__).parent / "jars"
    bundled = {p.name for p in jars.glob("hadoop-client-*")}
    assert any(row.hadoop in name for name in bundled), bundled  # hadoop-aws = pyspark's Hadoop
    assert any(f"scala-library-{row.scala}" in p.name for p in jars.glob("scala-library-*"))


def test_java_matches_the_glue_version(monkeypatch):
    row = glue_runtime(monkeypatch)
    out = subprocess.run([f"{java_home()}/bin/java", "-version"], capture_output=True, text=True)
    assert re.search(rf'version "{row.java}[.\d]*"', out.stderr), out.stderr
