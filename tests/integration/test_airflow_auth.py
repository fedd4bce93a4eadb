"""The native Airflow API server requires a login: anonymous calls to the REST API are refused,
a wrong password gets no token, the profile's admin login gets one that works. Only the health
endpoint (used by `lakehouse services`) answers without a login."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from lakehouse.config.pipelines import MASTER_DAG_ID


def _call(url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


@pytest.fixture(scope="module")
def api(airflow_profile) -> str:
    return f"http://127.0.0.1:{airflow_profile.airflow.api_port}"


def test_the_rest_api_refuses_anonymous_calls(api):
    status, _ = _call(f"{api}/api/v2/dags")
    assert status in (401, 403), status
    status, health = _call(f"{api}/api/v2/monitor/health")
    assert status == 200 and health["metadatabase"]["status"] == "healthy"


def test_a_wrong_password_gets_no_token(api, local_profile):
    user = local_profile.airflow.admin_user
    status, body = _call(f"{api}/auth/token", {"username": user, "password": "not-the-password"})
    assert status == 401 and "access_token" not in body, (status, body)


def test_the_admin_login_gets_a_working_token(api, local_profile):
    airflow = local_profile.airflow
    login = {"username": airflow.admin_user, "password": airflow.admin_password}
    status, body = _call(f"{api}/auth/token", login)
    assert status == 201, (status, body)
    status, dags = _call(f"{api}/api/v2/dags?limit=100", token=body["access_token"])
    assert status == 200
    assert MASTER_DAG_ID in {d["dag_id"] for d in dags["dags"]}


def test_run_reports_are_served_to_logged_in_users_only(api, local_profile):
    """The api-server route behind the master run's "Run report" link (lakehouse/report/web.py):
    no login, no report; logged in, an unknown run is a 404 that says what writes reports, and
    anything that is not a run key never reaches the object store."""
    route = f"{api}/lakehouse/runs/manual__1999-01-01T00-00-00_00-00/report.html"
    status, _ = _call(route)
    assert status in (401, 403), status
    airflow = local_profile.airflow
    login = {"username": airflow.admin_user, "password": airflow.admin_password}
    token = _call(f"{api}/auth/token", login)[1]["access_token"]
    request = urllib.request.Request(route, headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=30)
    assert missing.value.code == 404 and "run_summary" in missing.value.read().decode()
    for bad in ("..%2F..%2Fsummary.json", "a%20b", ".hidden"):
        status, _ = _call(f"{api}/lakehouse/runs/{bad}/report.html", token=token)
        assert status == 404, (bad, status)


def test_the_rest_client_reads_dags_and_logs_in_again_when_its_token_is_refused(local_profile):
    """lakehouse.platform.airflow_api, the one client the CLI, demo, e2e tests and benchmarks use: a
    parsed DAG is found, an unknown one is None (not an error), no import errors are reported
    on the shipped DAGs, and a token the server refuses is replaced by a fresh login."""
    from lakehouse.platform.airflow_api import AirflowApi

    api = AirflowApi(local_profile)
    assert api.dag(MASTER_DAG_ID)["dag_id"] == MASTER_DAG_ID
    assert api.dag("no_such_dag") is None
    assert api.import_errors() == []
    api._token = "not-a-token"
    assert api.dag(MASTER_DAG_ID)["dag_id"] == MASTER_DAG_ID
    assert api._token != "not-a-token"
