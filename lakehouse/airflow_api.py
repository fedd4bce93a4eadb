"""A small client of the native Airflow REST API (v2), logged in with the profile's admin
login: the benchmarks read finished runs with it, the e2e tests extra links and task tries."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from lakehouse.config import Profile


class AirflowApi:
    """The local profile's Airflow REST API (v2), logged in with the profile's admin login."""

    def __init__(self, profile: Profile) -> None:
        self.base = f"http://127.0.0.1:{profile.airflow.api_port}"
        login = {
            "username": profile.airflow.admin_user,
            "password": profile.airflow.admin_password or "",
        }
        self.token = self._call("/auth/token", login)["access_token"]

    def get(self, path: str) -> dict:
        """GET `path` (e.g. /api/v2/dags) as the logged-in admin."""
        return self._call(path)

    def _call(self, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())

    def runs(self, dag_id: str, limit: int) -> list[dict]:
        """The DAG's latest runs, newest first."""
        path = f"/api/v2/dags/{dag_id}/dagRuns?order_by=-start_date&limit={limit}"
        return self._call(path)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        run = urllib.parse.quote(run_id, safe="")
        return self._call(f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances?limit=1000")[
            "task_instances"
        ]
