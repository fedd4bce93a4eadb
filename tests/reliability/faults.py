"""Fault-injection helpers for the reliability tests."""

from __future__ import annotations

import subprocess

from lakehouse.config import Profile


def spark_submit(profile: Profile, task_id: str, batch_id: str, log) -> subprocess.Popen:
    """Start one of the master DAG's Spark tasks exactly as its SparkSubmitOperator would
    (same application, arguments, confs and jars) in a new process group, so the whole driver
    (the JVM and its Python process) can be killed at once. Output goes to `log`."""
    import sys
    from pathlib import Path

    from lakehouse.airflow_env import airflow_environment
    from lakehouse.dags import build_master
    from lakehouse.orchestration import load_pipelines
    from lakehouse.registry import load_registry

    task = build_master(profile, load_registry(), load_pipelines()).get_task(task_id)
    args = [a if "{{" not in a else a.split("{{")[0] + batch_id + a.split("}}")[-1]
            for a in task.application_args]  # fmt: skip
    confs = [x for k, v in task.conf.items() for x in ("--conf", f"{k}={v}")]
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", profile.spark.master,
           *confs, "--jars", task.jars, "--name", f"reliability.{task_id}",
           task.application, *args]  # fmt: skip
    out = open(log, "w")  # noqa: SIM115 - the child owns it until it exits
    return subprocess.Popen(cmd, env=airflow_environment(profile), start_new_session=True,
                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
