"""`lakehouse silver release`: an operator's way out of a SILVER batch stopped by its error rate.

The release of a bronze file is recorded in the SILVER zone (spark_jobs.silver.release); the
next SILVER run moves the file's rows, all of them, to the row quarantine with reason
`released_by_operator` and who, when and why, and marks it processed. Only files the
ingestion log knows as ingested to BRONZE can be released, so a typo never goes unnoticed.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime

from lakehouse.backends.storage import ObjectStore, object_store
from lakehouse.config import ConfigError, Profile
from lakehouse.config.registry import load_registry
from lakehouse.ingest import read_log
from spark_jobs.silver import release as R


class ReleaseError(ValueError):
    """A release that names no file, or a file the ingestion log does not know."""


def operator() -> str:
    """Who releases: the login name (LOGNAME/USER, else the account)."""
    try:
        return getpass.getuser()
    except OSError:  # no name for the uid (some containers)
        return "unknown"


def release(
    profile: Profile,
    dataset: str,
    keys: list[str],
    note: str = "",
    by: str | None = None,
    store: ObjectStore | None = None,
) -> list[dict]:
    """Record the release of `keys` (bronze keys of `dataset`); returns the records written."""
    silver = {n for n, d in load_registry().file_datasets.items() if d.silver is not None}
    if dataset not in silver:
        raise ConfigError(
            f"dataset {dataset!r} has no SILVER table (config/datasets.yaml "
            f"datasets with `silver:`: {sorted(silver)})"
        )
    if not keys:
        raise ReleaseError("name at least one file to release: --file <bronze key>")
    store = store or object_store(profile)
    logged = {
        r["target_key"]
        for r in read_log(store, profile.zones.bronze, dataset)
        if r["outcome"] == "bronze"
    }
    unknown = [k for k in keys if k not in logged]
    if unknown:
        raise ReleaseError(
            f"not in the ingestion log of {dataset} as files in BRONZE: {unknown}; the failed "
            f"run names its files by bronze key (run report, or `worst_files` in the "
            f"bronze_to_silver metrics)"
        )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    records = [
        {
            "dataset": dataset,
            "bronze_key": key,
            "released_by": by or operator(),
            "released_at": now,
            "note": note,
        }
        for key in dict.fromkeys(keys)
    ]
    for record in records:
        store.put(
            profile.zones.silver,
            R.record_key(dataset, record["bronze_key"]),
            json.dumps(record).encode(),
        )
    return records
