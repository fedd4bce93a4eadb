"""Operator releases: the way out of a SILVER batch stopped by its error rate.

`lakehouse silver release --dataset D --file K` writes one JSON record per released bronze file
under the SILVER zone (`RELEASES/<dataset>/`); the next SILVER run moves every row of a released,
still pending file to the row quarantine with reason RELEASED (and who, when and why in the
row's `quarantine_detail`) and marks the file processed, so the rest of the batch goes through.
The records stay as the audit trail. Plain Python (no pyspark): the CLI imports it too.
"""

from __future__ import annotations

import hashlib

from spark_jobs.contract import FILE_ERROR_RATE, RELEASED_BY_OPERATOR

RELEASES = "_state/releases"  # under the SILVER zone
RELEASED = RELEASED_BY_OPERATOR  # quarantine reason of a released file's rows
FILE_OVER_LIMIT = FILE_ERROR_RATE  # quarantine reason of a file over max_file_error_rate
FIELDS = "dataset string, bronze_key string, released_by string, released_at string, note string"


def record_key(dataset: str, bronze_key: str) -> str:
    """Where the release of `bronze_key` is recorded, relative to the SILVER zone's root."""
    digest = hashlib.sha256(bronze_key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{RELEASES}/{dataset}/{digest}.json"


def detail(record: dict) -> str:
    """The quarantine detail of a released file's rows: who, when and why."""
    note = f": {record['note']}" if record.get("note") else ""
    return f"released by {record['released_by']} at {record['released_at']}{note}"


def release_command(dataset: str, keys: list[str]) -> str:
    """The command an operator runs to release `keys` (shown in the failure)."""
    files = " ".join(f"--file '{k}'" for k in keys)
    return f"lakehouse silver release --dataset {dataset} {files}"
