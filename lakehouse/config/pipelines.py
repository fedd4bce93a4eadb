"""Orchestration settings (config/pipelines.yaml): retries and backoff, timeouts, owners, tags,
schedules, deadline and alert recipients of the generated DAGs (lakehouse/orchestration/dags.py).

`LAKEHOUSE_PIPELINES_FILE` points at another file (tests). Validated with pydantic when
loaded; an error names the file and the key.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lakehouse.config import read_config, validation_error
from lakehouse.paths import CONFIG_DIR

PIPELINES_FILE = CONFIG_DIR / "pipelines.yaml"
MASTER_DAG_ID = "lakehouse_pipeline"
MASTER_TASKS = (
    "settle_landings",
    "validate_config",
    "raw_to_bronze",
    "db_to_bronze",
    "bronze_to_silver",
    "silver_to_gold",
    "load_warehouse",
    "validate_warehouse",
    "run_summary",
)
# The master DAG's Spark tasks, one job script each (spark_jobs/<name>.py), in run order.
SPARK_JOBS = ("db_to_bronze", "bronze_to_silver", "silver_to_gold")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskPolicy(_Strict):
    owner: str = Field(min_length=1)
    retries: int = Field(default=3, ge=0, le=20)
    retry_delay_seconds: float = Field(default=120, gt=0)
    retry_exponential_backoff: float = Field(default=2.0, ge=0)
    max_retry_delay_seconds: float = Field(default=600, gt=0)
    execution_timeout_minutes: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _max_not_below_first(self) -> TaskPolicy:
        if self.max_retry_delay_seconds < self.retry_delay_seconds:
            raise ValueError("max_retry_delay_seconds is smaller than retry_delay_seconds")
        return self

    def default_args(self) -> dict:
        return {
            "owner": self.owner,
            "retries": self.retries,
            "retry_delay": timedelta(seconds=self.retry_delay_seconds),
            "retry_exponential_backoff": self.retry_exponential_backoff,
            "max_retry_delay": timedelta(seconds=self.max_retry_delay_seconds),
            "execution_timeout": timedelta(minutes=self.execution_timeout_minutes),
        }


class AlertRouting(_Strict):
    email_to: list[str] = []
    email_from: str = "lakehouse@localhost"
    webhook: bool = True
    sns: bool = True


class MasterSettings(_Strict):
    schedule: str | None = "@hourly"
    # Data-aware scheduling: a run also starts when an ingestion DAG lands files in BRONZE.
    on_landing: bool = True
    # The debounce of a run started by landings: it waits at least settle_seconds, then until
    # RAW holds no file of a registry dataset, at most settle_max_seconds.
    settle_seconds: float = Field(default=20, ge=0)
    settle_max_seconds: float = Field(default=300, ge=0)
    tags: list[str] = Field(min_length=1)
    deadline_minutes: float = Field(gt=0)
    execution_timeout_minutes: dict[str, float] = {}

    @model_validator(mode="after")
    def _known_tasks(self) -> MasterSettings:
        unknown = sorted(set(self.execution_timeout_minutes) - set(MASTER_TASKS))
        if unknown:
            raise ValueError(
                f"execution_timeout_minutes: unknown tasks {unknown} (tasks: {list(MASTER_TASKS)})"
            )
        return self

    @model_validator(mode="after")
    def _settle_window(self) -> MasterSettings:
        if self.settle_max_seconds < self.settle_seconds:
            raise ValueError(
                f"settle_max_seconds ({self.settle_max_seconds:g}) is below settle_seconds "
                f"({self.settle_seconds:g})"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _none_is_manual(cls, data):
        if isinstance(data, dict) and str(data.get("schedule", "")).lower() in ("none", ""):
            return {**data, "schedule": None}
        return data


class IngestionSettings(_Strict):
    tags: list[str] = Field(min_length=1)


class Pipelines(_Strict):
    defaults: TaskPolicy
    alerts: AlertRouting = AlertRouting()
    master: MasterSettings
    ingestion: IngestionSettings

    def execution_timeout_minutes(self, task_id: str) -> float:
        """A master task's execution timeout: its own entry, else the defaults'."""
        own = self.master.execution_timeout_minutes.get(task_id)
        return self.defaults.execution_timeout_minutes if own is None else own


def pipelines_file() -> Path:
    return Path(os.environ.get("LAKEHOUSE_PIPELINES_FILE") or PIPELINES_FILE)


def load_pipelines(path: Path | None = None) -> Pipelines:
    source = path or pipelines_file()
    try:
        return Pipelines.model_validate(read_config(source))
    except ValidationError as exc:
        raise validation_error(source, exc) from exc
