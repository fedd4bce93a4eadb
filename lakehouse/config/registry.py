"""The dataset registry (config/datasets.yaml): file datasets and operational source tables.

Validated with pydantic when loaded; an error names the file and the key.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lakehouse.config import ConfigError, validation_error
from lakehouse.paths import CONFIG_DIR

REGISTRY_FILE = CONFIG_DIR / "datasets.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ColumnType = Literal[
    "string", "long", "double", "timestamp", "enum", "money", "currency", "country", "email", "json"
]


class ColumnSpec(_Strict):
    type: ColumnType
    required: bool = False
    values: list[str] | None = None
    range: tuple[float, float] | None = None
    # Personal data: kept in SILVER and in the warehouse's restricted schema only; GOLD's
    # analyst-readable tables carry the pseudonymous user_key instead (docs/pii.md).
    pii: bool = False

    @model_validator(mode="after")
    def _values_for_enums(self) -> ColumnSpec:
        if self.type in ("enum", "currency") and not self.values:
            raise ValueError(f"type '{self.type}' needs 'values'")
        return self


class SilverSpec(_Strict):
    key: list[str] = Field(min_length=1)
    order_by: str
    columns: dict[str, ColumnSpec]
    partition_date_from: str | None = None
    scd2_tracked: list[str] | None = None
    max_error_rate: float = Field(default=0.1, ge=0, le=1)
    # Off by default: a file whose own share of bad rows is above it is quarantined whole
    # (reason file_error_rate) and the rest of the batch is judged without it.
    max_file_error_rate: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _columns_exist(self) -> SilverSpec:
        named = [*self.key, self.order_by, *(self.scd2_tracked or [])]
        if self.partition_date_from:
            named.append(self.partition_date_from)
        missing = [c for c in named if c not in self.columns]
        if missing:
            raise ValueError(f"columns {missing} are used but not declared under 'columns'")
        return self


class FileDataset(_Strict):
    owner: str
    sensor_schedule_minutes: int = Field(default=5, ge=1, le=1440)
    silver: SilverSpec | None = None


class SourceTable(_Strict):
    schema_name: str = Field(alias="schema")
    mode: Literal["full", "incremental"]
    watermark: str | None = None
    key: list[str] = Field(min_length=1)
    read_partitions: int = Field(default=1, ge=1, le=64)
    # How SILVER types, checks and keys the table; each db_to_bronze write is one batch to it.
    silver: SilverSpec | None = None

    @model_validator(mode="after")
    def _incremental_needs_watermark(self) -> SourceTable:
        if self.mode == "incremental" and not self.watermark:
            raise ValueError("mode 'incremental' needs a 'watermark' column")
        return self

    def job_spec(self, name: str) -> dict:
        return {"table": name, **self.model_dump(by_alias=True, exclude={"silver"})}


class Registry(_Strict):
    file_datasets: dict[str, FileDataset]
    source_tables: dict[str, SourceTable] = {}

    @model_validator(mode="after")
    def _one_name_per_dataset(self) -> Registry:
        both = sorted(set(self.file_datasets) & set(self.source_tables))
        if both:
            raise ValueError(f"{both} named both a file dataset and a source table")
        return self

    def silver_specs(self) -> dict[str, tuple[str, SilverSpec]]:
        """dataset -> (its bronze source: "files" or "table", its SILVER spec), file datasets
        first, each group by name."""
        out: dict[str, tuple[str, SilverSpec]] = {}
        for source, entries in (("files", self.file_datasets), ("table", self.source_tables)):
            for name, entry in sorted(entries.items()):
                if entry.silver is not None:
                    out[name] = (source, entry.silver)
        return out

    def silver_specs_json(self) -> str:
        """The SILVER specs as the bronze_to_silver job takes them (one JSON argument)."""
        return json.dumps(
            [
                {"dataset": name, "source": source, **spec.model_dump(mode="json")}
                for name, (source, spec) in self.silver_specs().items()
            ]
        )

    def pii_columns(self) -> dict[str, list[str]]:
        """The columns marked `pii: true`, per dataset (datasets without any left out)."""
        out = {}
        for name, (_source, spec) in self.silver_specs().items():
            marked = [c for c, col in spec.columns.items() if col.pii]
            if marked:
                out[name] = marked
        return out

    def source_tables_json(self) -> str:
        """The table specs as the db_to_bronze job takes them (one JSON argument)."""
        return json.dumps([t.job_spec(n) for n, t in sorted(self.source_tables.items())])


def registry_file() -> Path:
    """config/datasets.yaml, or the file LAKEHOUSE_DATASETS_FILE names (tests)."""
    return Path(os.environ.get("LAKEHOUSE_DATASETS_FILE") or REGISTRY_FILE)


def load_registry(path: Path | None = None) -> Registry:
    path = path or registry_file()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the dataset registry: {exc}") from exc
    try:
        return Registry.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, exc) from exc


@lru_cache(maxsize=1)
def registry() -> Registry:
    return load_registry()
