"""Run one generated DAG to completion in this process with Airflow's `dag.test()` and write
its outcome as JSON: `python tests/dag_inprocess.py DAG_ID OUT.json [RUN_CONF_JSON]`.

The caller prepares the environment (profile, AWS endpoint, a throwaway AIRFLOW_HOME with a
SQLite metadata DB, a JWT secret); this script migrates that DB first. Used by the aws-profile
contract test, where every AWS call goes to moto's server and no scheduler is needed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_KEEP: list = []


def _durable_in_process_api():
    """The in-process Execution API with its lifespan entered and the object kept alive.

    Written by hand because Airflow 3.2's dag.test() creates one in-process Execution API per
    task and drops it as soon as its HTTP client exists; when Python collects it, its exit
    stack closes the app's lifespan and svcs removes `svcs_registry` from the app state, so
    the task's first call fails ("'State' object has no attribute 'svcs_registry'"). Keeping
    the object (and waiting for the lifespan to have started) avoids both the race and the GC.
    """
    from airflow.api_fastapi.execution_api.app import InProcessExecutionAPI

    api = InProcessExecutionAPI()
    started = []
    original = asyncio.run_coroutine_threadsafe

    def recording(coro, loop):
        future = original(coro, loop)
        started.append(future)
        return future

    asyncio.run_coroutine_threadsafe = recording
    try:
        api.transport  # noqa: B018 - builds the transport and schedules the lifespan
    finally:
        asyncio.run_coroutine_threadsafe = original
    for future in started:
        future.result(timeout=60)
    _KEEP.append(api)
    return api


def _finalize_with_the_exception():
    """Airflow 3.2's in-process task run (dag.test) calls the task runner's finalize() without
    putting the error in the context, as the task runner's own main() does before it; failure
    callbacks rendering `{{ exception }}` then fail. Set it the same way."""
    import airflow.sdk.execution_time.task_runner as task_runner

    original = task_runner.finalize

    def finalize(ti, state, context, log, error=None):
        context["exception"] = error
        return original(ti, state, context, log, error)

    task_runner.finalize = finalize


def main() -> int:
    dag_id, out = sys.argv[1], Path(sys.argv[2])
    conf = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )

    import airflow.sdk.execution_time.supervisor as supervisor

    supervisor.in_process_api_server = _durable_in_process_api
    _finalize_with_the_exception()

    from lakehouse.orchestration.dags import build_all

    run = build_all()[dag_id].test(run_conf=conf)
    tasks = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        tasks[key] = str(ti.state) if ti.state else None
    out.write_text(json.dumps({"run_id": run.run_id, "state": str(run.state), "tasks": tasks}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
