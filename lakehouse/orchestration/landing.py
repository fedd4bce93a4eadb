"""Data-aware scheduling of the master DAG: each `ingest_<dataset>` DAG emits the asset
`bronze/<dataset>` when it lands files in BRONZE, and the master is scheduled on any of them.

A run started by landings first settles (the debounce): it waits at least `settle_seconds`, then
until RAW holds no file of a registry dataset (a burst being ingested), at most
`settle_max_seconds`; the files of the burst then go through SILVER in this one run.

Airflow queues the landings that happen while a run is going and starts one more run for them
afterwards. Most of them were already read by the run that just finished, so every run records
its *cutoff* in the metrics zone: the moment its SILVER job began reading BRONZE (from the job's
metrics, so only when SILVER got that far, whether its checks then passed or failed). A run
started by landings that all happened before the previous cutoff is skipped: nothing it was
started for is new. So is one with another run already queued behind it (a manual trigger just
after files were dropped): that run starts next and reads all of BRONZE. The hourly schedule
stays as the safety net.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from lakehouse.backends.storage import ObjectStore
from lakehouse.config import Profile

CUTOFF_KEY = "_state/landing_cutoff.json"
WAIT, SKIP, GO = "wait", "skip", "go"


def asset_name(dataset: str) -> str:
    return f"bronze/{dataset}"


def asset_uri(profile: Profile, dataset: str) -> str:
    """Where the dataset's BRONZE files are, as the asset's URI (s3:// or file://)."""
    return profile.uri("bronze", f"{dataset}/")


@dataclass(frozen=True)
class Landings:
    """The asset events a run was started by (empty for manual and scheduled runs)."""

    at: tuple[datetime, ...]
    by_asset: Mapping[str, int]

    @classmethod
    def from_events(cls, events: Mapping | None) -> Landings:
        """From the task context's `triggering_asset_events` (asset -> its events)."""
        at, counts = [], {}
        for asset, items in (events or {}).items():
            items = list(items)
            counts[getattr(asset, "name", None) or str(asset)] = len(items)
            at += [e.timestamp for e in items]
        return cls(tuple(sorted(at)), counts)


def decide(
    landings: Landings,
    cutoff: datetime | None,
    queued: int,
    waited_s: float,
    raw_files: int,
    settle_s: float,
    settle_max_s: float,
) -> tuple[str, str]:
    """(WAIT, SKIP or GO, why) for the master run's first task.

    A run not started by landings goes at once. One started by landings is skipped when
    another run is already queued behind it (a manual trigger, say: it starts next and reads
    all of BRONZE), or when they all happened at or before the previous run's cutoff. Otherwise it
    waits for the burst to settle: `settle_s` at least, then while RAW holds files, until
    `settle_max_s`.
    """
    if not landings.at:
        return GO, "not started by landings"
    if queued:
        return SKIP, f"{queued} run(s) queued behind it will read everything that landed"
    if cutoff is not None and landings.at[-1] <= cutoff:
        return SKIP, (
            f"nothing new: every landing it was started for ({dict(landings.by_asset)}) "
            f"happened before {cutoff.isoformat()}, when the previous run's SILVER read BRONZE"
        )
    if waited_s < settle_s:
        return WAIT, f"settling ({waited_s:.0f} of at least {settle_s:g} s)"
    if raw_files and waited_s < settle_max_s:
        return (
            WAIT,
            f"{raw_files} file(s) still in RAW (waited {waited_s:.0f} of {settle_max_s:g} s)",
        )
    return GO, f"settled after {waited_s:.0f} s"


def raw_files(store: ObjectStore, profile: Profile, datasets: Iterable[str]) -> int:
    """How many files wait in RAW under the given datasets' prefixes."""
    return sum(sum(1 for _ in store.list(profile.zones.raw, f"{d}/")) for d in datasets)


def read_cutoff(store: ObjectStore, profile: Profile) -> datetime | None:
    if not store.exists(profile.zones.metrics, CUTOFF_KEY):
        return None
    record = json.loads(store.get(profile.zones.metrics, CUTOFF_KEY))
    return datetime.fromisoformat(record["cutoff"])


def write_cutoff(store: ObjectStore, profile: Profile, cutoff: str, run_id: str) -> None:
    record = {"cutoff": cutoff, "run_id": run_id}
    store.put(profile.zones.metrics, CUTOFF_KEY, json.dumps(record).encode())


def record_cutoff(store: ObjectStore, profile: Profile, summary: dict) -> None:
    """The moment a run's SILVER began reading BRONZE (its metrics' start, in the run summary's
    timeline, written when it finished or failed its checks): whatever landed before it was
    read. A run whose SILVER did not get that far records nothing, so its landings still
    start a run."""
    started = next(
        (s["started_at"] for s in summary.get("timeline", []) if s["stage"] == "bronze_to_silver"),
        None,
    )
    if started is not None:
        cutoff = datetime.fromtimestamp(started, UTC).isoformat()
        write_cutoff(store, profile, cutoff, summary["run_id"])
