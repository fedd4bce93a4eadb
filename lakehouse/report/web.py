"""The run report inside Airflow: a "Run report" extra link on the master DAG's run_summary
task, and the api-server route it points to (airflow/plugins/lakehouse_reports.py mounts it
under /lakehouse).

The report lives in the object store, which a browser cannot read on its own (the local S3
server wants signed requests, the embedded profile's lake is a folder), so Airflow's
api-server serves it, to logged-in users allowed to read the master DAG's runs. On AWS the
link goes to the S3 console's page for the object instead, behind the viewer's own AWS login.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

from lakehouse.config import Profile, load_profile
from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.report.run_summary import run_key

URL_PREFIX = "/lakehouse"
# A run key as run_summary.run_key() makes it: no slash, no "..", nothing to escape.
RUN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,250}")
# The report is plain HTML with inline CSS and SVG: nothing else may load or run from it.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def report_url(profile: Profile, run_id: str, api_base_url: str) -> str:
    """Where a browser opens the run's report."""
    from lakehouse.backends import backends
    from lakehouse.report import report_key

    console = backends(profile).store.console_url(profile.zones.metrics, report_key(run_id))
    if console:
        return console
    return f"{api_base_url.rstrip('/')}{URL_PREFIX}/runs/{quote(run_key(run_id))}/report.html"


class RunReportLink(BaseOperatorLink):
    """Computed by the worker when run_summary finishes and kept in XCom, like every Airflow 3
    extra link; the UI shows it as a button on the task instance."""

    name = "Run report"

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.configuration import conf

        return report_url(load_profile(), ti_key.run_id, conf.get("api", "base_url"))


def create_app():
    """The FastAPI app the plugin mounts: GET /runs/<run key>/report.html."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse

    from lakehouse import report
    from lakehouse.backends.storage import MissingObject

    app = FastAPI(title="Lakehouse run reports", docs_url=None, redoc_url=None, openapi_url=None)
    can_read_runs = Depends(requires_access_dag("GET", DagAccessEntity.RUN, MASTER_DAG_ID))

    @app.get("/runs/{key}/report.html", response_class=HTMLResponse, dependencies=[can_read_runs])
    def run_report(key: str) -> HTMLResponse:
        if not RUN_KEY.fullmatch(key) or ".." in key:
            raise HTTPException(status_code=404, detail="not a run key")
        try:
            _, body = report.fetch(load_profile(), key)
        except MissingObject as exc:
            raise HTTPException(
                status_code=404,
                detail=f"no report for run {key}: the run's run_summary task writes it ({exc})",
            ) from exc
        return HTMLResponse(body, headers={"Content-Security-Policy": CSP})

    return app
