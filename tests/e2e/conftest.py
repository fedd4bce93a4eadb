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
