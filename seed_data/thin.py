"""The thin slice: a few hundred clickstream events in CSV and NDJSON, with duplicates, bad
rows and one corrupt file planted on purpose, plus a manifest of what a correct pipeline makes
of them. Deterministic for a given seed.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

EVENT_TYPES = [
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "login",
    "logout",
]
DEVICES = ["web", "ios", "android"]
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "BR", "IN"]
COLUMNS = [
    "event_id",
    "user_id",
    "event_type",
    "event_ts",
    "session_id",
    "device",
    "country",
    "product_id",
]
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ThinSpec:
    events: int = 280
    duplicates: int = 12
    bad_rows: int = 8
    days: int = 3


def _event(rng: random.Random, number: int, days: int) -> dict:
    ts = START + timedelta(seconds=rng.randrange(days * 86400))
    etype = rng.choice(EVENT_TYPES)
    return {
        "event_id": f"evt-{number:06d}",
        "user_id": str(rng.randint(1, 60)),
        "event_type": etype,
        "event_ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "session_id": f"s-{rng.randint(1, 150):05d}",
        "device": rng.choice(DEVICES),
        "country": rng.choice(COUNTRIES).lower() if rng.random() < 0.2 else rng.choice(COUNTRIES),
        "product_id": f"p-{rng.randint(1, 40):04d}"
        if etype in ("product_view", "add_to_cart", "purchase")
        else "",
    }


def _bad_row(rng: random.Random, number: int, days: int, kind: int) -> tuple[dict, str]:
    row = _event(rng, number, days)
    if kind % 3 == 0:
        row["event_ts"] = "not-a-timestamp"
        return row, "invalid_event_ts"
    if kind % 3 == 1:
        row["event_id"] = ""
        return row, "missing_event_id"
    row["event_type"] = "teleport"
    return row, "unknown_event_type"


def generate(out: Path, seed: int = 42, spec: ThinSpec = ThinSpec()) -> dict:
    """Write raw/events/ files under `out` and return (and write) the manifest."""
    rng = random.Random(seed)
    events = [_event(rng, n, spec.days) for n in range(1, spec.events + 1)]
    duplicates = [dict(e) for e in rng.sample(events, spec.duplicates)]
    bad = [_bad_row(rng, 900000 + n, spec.days, n) for n in range(spec.bad_rows)]

    half = len(events) // 2
    csv_rows = events[:half] + [r for r, _ in bad[: spec.bad_rows // 2]]
    ndjson_rows = events[half:] + duplicates + [r for r, _ in bad[spec.bad_rows // 2 :]]
    rng.shuffle(csv_rows)
    rng.shuffle(ndjson_rows)

    raw = out / "events"
    raw.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows)
    (raw / "events_2026-11-01_batch1.csv").write_text(buf.getvalue())
    ndjson = "".join(
        json.dumps({k: (v if v != "" else None) for k, v in r.items()}) + "\n" for r in ndjson_rows
    )
    (raw / "events_2026-11-02_batch2.ndjson").write_text(ndjson)
    # A file cut off mid-record by a failed upload: must be quarantined, not half-loaded.
    (raw / "events_2026-11-03_batch3.json").write_text(ndjson[: len(ndjson) // 3].rstrip("\n")[:-7])

    daily = Counter()
    users: dict[tuple[str, str], set[str]] = {}
    for e in events:
        key = (e["event_ts"][:10], e["event_type"])
        daily[key] += 1
        users.setdefault(key, set()).add(e["user_id"])
    manifest = {
        "seed": seed,
        "files": {
            "events_2026-11-01_batch1.csv": {"expect": "bronze", "rows": len(csv_rows)},
            "events_2026-11-02_batch2.ndjson": {"expect": "bronze", "rows": len(ndjson_rows)},
            "events_2026-11-03_batch3.json": {"expect": "quarantine", "reason": "malformed_json"},
        },
        "rows_in": len(csv_rows) + len(ndjson_rows),
        "silver_rows": len(events),
        "duplicates": len(duplicates),
        "quarantined_rows": Counter(reason for _, reason in bad),
        "gold_daily_event_counts": [
            {"event_date": d, "event_type": t, "event_count": n, "unique_users": len(users[(d, t)])}
            for (d, t), n in sorted(daily.items())
        ],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest
