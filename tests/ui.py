"""The Airflow UI and the run report in a real browser (headless Debian Chromium through its
ChromeDriver, driven by selenium; nothing downloaded), the same check on the native stack
(tests/e2e) and on the Compose stack through its published port (tests/compose)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from lakehouse.config.pipelines import MASTER_DAG_ID
from lakehouse.platform import pipeline


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium session, quit on exit; fails (never skips) when it is missing."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        pytest.fail(
            "Chromium or ChromeDriver missing: apt-get install chromium chromium-driver "
            "(.ci/run installs them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1440,900",
    ):
        options.add_argument(arg)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.implicitly_wait(0)
    try:
        yield session
    finally:
        session.quit()


def visible_texts(browser, selector: str, attribute: str | None = None) -> list:
    """The trimmed text of every visible element matching `selector` (with `attribute`'s value
    when asked: (text, value) pairs), read in one script call so a re-render cannot leave a
    stale element half-read."""
    return browser.execute_script(
        """const [selector, attribute] = arguments;
        return [...document.querySelectorAll(selector)]
          .filter(e => e.getClientRects().length && e.innerText.trim())
          .map(e => attribute ? [e.innerText.trim(), e[attribute]] : e.innerText.trim());""",
        selector,
        attribute,
    )


def check_finished_run(browser, profile, run_id: str, shots: Path) -> None:
    """Log in to the Airflow UI at the profile's API port, open the finished run and see it and
    every task succeeded; follow run_summary's "Run report" extra link to the HTML report
    (served by the api-server to the logged-in browser) and see its charts. Screenshots go to
    `shots`."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from lakehouse import report
    from lakehouse.report import web as report_web

    shots.mkdir(parents=True, exist_ok=True)
    api = f"http://127.0.0.1:{profile.airflow.api_port}"
    run_path = f"/dags/{MASTER_DAG_ID}/runs/{quote(run_id, safe='')}"
    # The UI is a React app that re-renders as its queries settle: an element found a moment
    # ago can be gone, so a wait retries on a stale element and page reads go through
    # visible_texts, which reads text in one script call instead of element by element.
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))

    browser.get(f"{api}/")
    fields = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input") or False)
    fields[0].send_keys(profile.airflow.admin_user)
    fields[1].send_keys(profile.airflow.admin_password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda b: "/auth/login" not in b.current_url)

    browser.get(f"{api}{run_path}")
    task_ids = list(pipeline.task_states(profile, MASTER_DAG_ID, run_id))

    def shown(b) -> str | bool:  # the task table has rendered
        text = b.find_element(By.TAG_NAME, "body").text
        return text if all(t in text for t in task_ids) and "Success" in text else False

    text = wait.until(shown)
    browser.save_screenshot(str(shots / "airflow-run.png"))
    assert run_id in text
    # The run's state badge and one per task instance row: every one says Success.
    badges = [b.lower() for b in visible_texts(browser, "[class*=badge]")]
    rows = len(pipeline.task_instances(profile, MASTER_DAG_ID, run_id))
    assert badges.count("success") > rows, badges  # the run's badge + every task instance
    assert not {"failed", "running", "queued", "up for retry", "upstream failed"} & set(badges)

    links = pipeline.airflow(profile).get(
        f"/api/v2/dags/{MASTER_DAG_ID}/dagRuns/{quote(run_id, safe='')}"
        "/taskInstances/run_summary/links"
    )
    link = links["extra_links"]["Run report"]
    assert link == report_web.report_url(profile, run_id, api)
    browser.get(f"{api}{run_path}/tasks/run_summary/details")
    hrefs = wait.until(
        lambda b: [h for t, h in visible_texts(b, "a", "href") if t == "Run report"] or False
    )
    assert hrefs == [link]
    browser.save_screenshot(str(shots / "airflow-run-report-link.png"))
    browser.get(link)
    charts = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "div.chart svg") or False)
    assert len(charts) >= 4 and all(c.size["width"] > 100 for c in charts)  # + the Gantt
    assert report.fetch(profile, run_id)[1].decode().startswith("<!doctype html>")
    assert run_id in browser.title
    browser.save_screenshot(str(shots / "run-report.png"))
