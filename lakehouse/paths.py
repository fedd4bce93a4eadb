"""Where the project lives on disk: the repo root and the ignored `.stack/` state folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"


def stack_dir() -> Path:
    """The ignored folder for binaries, jars, service data and logs (LAKEHOUSE_STACK_DIR)."""
    return Path(os.environ.get("LAKEHOUSE_STACK_DIR", REPO_ROOT / ".stack")).resolve()


def jars_dir() -> Path:
    return stack_dir() / "jars"


def logs_dir() -> Path:
    return stack_dir() / "logs"
