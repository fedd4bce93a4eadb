"""e2e fixtures: the running native stack of the local profile (started by `make services-up`
/ .ci/run); a service that is down fails the test with the command to start it."""

from __future__ import annotations

import pytest

from lakehouse.config import load_profile
from lakehouse.services import Stack


@pytest.fixture(scope="module")
def profile():
    prof = load_profile("local")
    status = Stack(prof).status()
    down = {n: s for n, s in status.items() if not s.startswith("healthy")}
    if down:
        pytest.fail(f"local stack not running: {down}; start it with `make services-up`")
    return prof


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through its ChromeDriver (selenium; nothing downloaded)."""
    import os
    import shutil

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("Chromium or ChromeDriver missing: apt-get install chromium chromium-driver "
                    "(.ci/run installs them)")  # fmt: skip
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1440,900"):  # fmt: skip
        options.add_argument(arg)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.implicitly_wait(0)
    yield session
    session.quit()
