"""Airflow plugin: serves the master DAG's run reports at /lakehouse/runs/<run>/report.html to
logged-in users (the "Run report" extra link of run_summary points there). The code is in
lakehouse/report/web.py."""

from airflow.plugins_manager import AirflowPlugin

from lakehouse.report.web import URL_PREFIX, create_app


class LakehouseReportsPlugin(AirflowPlugin):
    name = "lakehouse_reports"
    fastapi_apps = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Lakehouse run reports"}
    ]
