"""No secret in the repository: detect-secrets scans every tracked file; anything it finds
must be one of the reviewed findings in .secrets.baseline (fake ARNs and test-only keys), by
file and hashed value, so moving a line is fine and a new secret fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def findings(report: dict) -> set[tuple[str, str]]:
    return {
        (name, item["hashed_secret"]) for name, items in report["results"].items() for item in items
    }


def test_no_secret_beyond_the_reviewed_baseline():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    files = [f for f in files if f != ".secrets.baseline"]  # hashes of the reviewed findings
    scan = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = findings(json.loads(scan.stdout))
    allowed = findings(json.loads((ROOT / ".secrets.baseline").read_text()))
    assert found - allowed == set(), "secrets found (remove them, or review and re-baseline)"
    assert allowed, "the baseline is empty: the scan did not run as expected"
