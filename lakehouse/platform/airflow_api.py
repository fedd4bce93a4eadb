"""The one client of Airflow's REST API (v2), logged in with the profile's admin login: the CLI,
`make demo`, the end-to-end tests and the benchmarks trigger, follow and read runs with it.

Written on the standard library rather than the `apache-airflow-client` package: that client
is generated for one API version and pins its own dependencies, while the few calls needed here
(token, trigger, runs, task instances, import errors) are plain JSON over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from lakehouse.config import Profile

# Attempts for a call that found nobody listening (an api-server restarting, a loaded
# machine): the caller's own deadline decides when to give up for good.
CONNECT_ATTEMPTS = 5


class AirflowApiError(RuntimeError):
    pass


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class AirflowApi:
    """The profile's Airflow REST API (v2), logged in with the profile's admin login."""

    def __init__(self, profile: Profile, timeout: float = 30) -> None:
        settings = profile.airflow
        self.base = f"http://{settings.api_host}:{settings.api_port}"
        self.timeout = timeout
        self._login = {"username": settings.admin_user, "password": settings.admin_password or ""}
        self._token: str | None = None

    # ------------------------------------------------------------------------------- HTTP
    def get(self, path: str) -> dict:
        """GET `path` (e.g. /api/v2/dags) as the logged-in admin."""
        return self._call(path)

    def post(self, path: str, body: dict) -> dict:
        return self._call(path, body)

    def _token_value(self) -> str:
        if self._token is None:
            self._token = self._request("/auth/token", self._login, None)["access_token"]
        return self._token

    def _call(self, path: str, body: dict | None = None) -> dict:
        try:
            return self._request(path, body, self._token_value())
        except urllib.error.HTTPError as exc:
            # A token the server no longer takes (expired, or signed with another secret) is
            # refused with 401 or 403; a fresh login answers which one it was.
            if exc.code not in (401, 403):
                raise
            self._token = None
            return self._request(path, body, self._token_value())

    def _request(self, path: str, body: dict | None, token: str | None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        attempt = 1
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if attempt == CONNECT_ATTEMPTS:
                    raise AirflowApiError(
                        f"Airflow's api-server at {self.base} does not answer ({exc}); is it "
                        "running? `make status` (or `lakehouse services status`)"
                    ) from exc
            time.sleep(attempt)
            attempt += 1

    # ------------------------------------------------------------------------------- DAGs
    def dag(self, dag_id: str) -> dict | None:
        """The DAG as the api-server knows it, or None while the dag-processor has not
        parsed it."""
        try:
            return self._call(f"/api/v2/dags/{_quote(dag_id)}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def import_errors(self) -> list[dict]:
        return self._call("/api/v2/importErrors?limit=100")["import_errors"]

    # ------------------------------------------------------------------------------- runs
    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """A manual run of `dag_id` (no logical date, as the UI's trigger button); its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        return self.post(f"/api/v2/dags/{_quote(dag_id)}/dagRuns", body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._call(f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}")

    def runs(self, dag_id: str, limit: int) -> list[dict]:
        """The DAG's latest runs, newest first."""
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns?order_by=-start_date&limit={limit}"
        return self._call(path)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of a run (mapped ones once per index), latest try of each."""
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances?limit=100"
        return self._call(path)["task_instances"]

    def queued_asset_events(self, dag_id: str) -> list[dict]:
        """Asset events waiting to start a run of the DAG (a run is created from them once the
        DAG is below max_active_runs): asset id and when each was queued."""
        return self._call(f"/api/v2/dags/{_quote(dag_id)}/assets/queuedEvents")["queued_events"]

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        """The asset events a run was started by (source DAG and run of each)."""
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/upstreamAssetEvents"
        return self._call(path)["asset_events"]

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """Every try of a (not mapped) task in a run, oldest first."""
        instance = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances"
        return self._call(f"{instance}/{_quote(task_id)}/tries")["task_instances"]
