"""The reference dataset: determinism, every documented fault present at the smallest scale,
and the manifest reconciled against an independent recount of the generated files.

The recount below reads the files with plain Python and applies the input contract (README,
seed_data/contract.py) itself; it shares no code with the generator beyond those constants.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from seed_data import contract as C
from seed_data.generate import generate

SCALE = 0.01


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ref")
    return out, generate(out, scale=SCALE, seed=42)


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(dataset, tmp_path):
    out, _ = dataset
    generate(tmp_path / "again", scale=SCALE, seed=42)
    assert _digest(out) == _digest(tmp_path / "again")


def test_other_seed_differs(dataset, tmp_path):
    out, manifest = dataset
    other = generate(tmp_path / "other", scale=SCALE, seed=43)
    assert other["gold"] != manifest["gold"]


# ----------------------------------------------------------------------------- reading
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    data = path.read_bytes()
    name = path.name
    if name.endswith(".gz"):
        data, name = gzip.decompress(data), name[:-3]
    if name.endswith(".parquet"):
        table = pq.read_table(io.BytesIO(data))
        return table.column_names, table.to_pylist()
    text = data.decode("utf-8-sig")
    if name.endswith(".ndjson"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return sorted({k for r in rows for k in r}), rows
    if name.endswith(".json"):
        rows = json.loads(text)
        return sorted({k for r in rows for k in r}), rows
    delimiter = "|" if name.endswith(".txt") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return list(reader.fieldnames or []), list(reader)


def is_null(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in C.NULL_SPELLINGS)


def parse_ts(v) -> datetime | None:
    s = str(v).strip()
    try:
        if re.fullmatch(r"\d{13}", s):
            return datetime.fromtimestamp(int(s) / 1000, UTC)
        if re.fullmatch(r"\d{10}", s):
            return datetime.fromtimestamp(int(s), UTC)
        if m := re.fullmatch(r"(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2})", s):
            d, mo, y, h, mi = map(int, m.groups())
            return datetime(y, mo, d, h, mi, tzinfo=UTC)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})?", s):
            ts = datetime.fromisoformat(s.replace("Z", "+00:00"))
            return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    except ValueError:
        return None
    return None


def parse_amount(v) -> Decimal | None:
    try:
        return Decimal(re.sub(r"[$€£,\s]", "", str(v)))
    except InvalidOperation:
        return None


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
ENUMS = {
    "events": {"event_type": C.EVENT_TYPES, "device": C.DEVICES},
    "transactions": {"status": C.TRANSACTION_STATUSES},
    "users": {"status": C.USER_STATUSES},
}
TS_COLS = {
    "events": ["event_ts"],
    "transactions": ["transaction_ts"],
    "users": ["updated_at"],
    "shipment_tracking": ["reading_ts"],
}


def check(dataset: str, row: dict) -> tuple[str | None, dict]:
    """The contract applied to one canonical row: (reason or None, parsed values)."""
    parsed = {c: (None if is_null(v) else v) for c, v in row.items()}
    if any(parsed.get(c) is None for c in C.REQUIRED_COLUMNS[dataset]):
        return C.MISSING_REQUIRED_KEY, parsed
    for col in TS_COLS[dataset]:
        parsed[col] = parse_ts(parsed[col])
        if parsed[col] is None:
            return C.INVALID_TIMESTAMP, parsed
    for col, allowed in ENUMS.get(dataset, {}).items():
        if parsed.get(col) is not None:
            parsed[col] = str(parsed[col]).strip().lower()
            if parsed[col] not in allowed:
                return C.UNKNOWN_ENUM, parsed
    if dataset == "transactions":
        parsed["amount"] = parse_amount(parsed["amount"])
        if parsed["amount"] is None or parsed["amount"] < 0:
            return C.NEGATIVE_AMOUNT, parsed
        parsed["currency"] = str(parsed["currency"]).strip().upper()
        if parsed["currency"] not in C.CURRENCIES:
            return C.INVALID_CURRENCY, parsed
    if dataset == "users" and not EMAIL.fullmatch(str(parsed["email"]).strip()):
        return C.MALFORMED_EMAIL, parsed
    if "user_id" in parsed:
        parsed["user_id"] = int(parsed["user_id"])
    return None, parsed


@pytest.fixture(scope="module")
def recount(dataset):
    out, manifest = dataset
    rows_in: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    valid: dict[str, list[dict]] = defaultdict(list)
    for batch in manifest["batches"]:
        for f in batch["files"]:
            if f["expect"] != "bronze":
                continue
            ds = f["dataset"]
            canon = {_norm(c): c for c in C.CANONICAL_COLUMNS[ds]}
            _, rows = read_rows(out / f["path"])
            for raw in rows:
                rows_in[ds] += 1
                row = {canon[_norm(k)]: v for k, v in raw.items() if _norm(k) in canon}
                reason, parsed = check(ds, row)
                if reason:
                    reasons[ds][reason] += 1
                else:
                    valid[ds].append(parsed)
    return manifest, rows_in, reasons, valid


def _freeze(row: dict) -> tuple:
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in row.items()))


@pytest.mark.parametrize("ds", ["events", "transactions", "users", "shipment_tracking"])
def test_manifest_matches_independent_recount(recount, ds):
    manifest, rows_in, reasons, valid = recount
    expected = manifest["datasets"][ds]
    assert rows_in[ds] == expected["rows_in"]
    assert dict(reasons[ds]) == expected["quarantined_rows"]
    key_cols = C.BUSINESS_KEYS[ds]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in valid[ds]:
        groups[tuple(row[c] for c in key_cols)].append(row)
    exact = sum(len(g) - len({_freeze(r) for r in g}) for g in groups.values())
    superseded = sum(len({_freeze(r) for r in g}) - 1 for g in groups.values())
    assert exact == expected["duplicates_dropped"]["exact"]
    assert superseded == expected["duplicates_dropped"]["superseded_by_later"]
    assert len(groups) == expected["silver_rows"]


def test_scd2_versions_match(recount):
    manifest, _, _, valid = recount
    versions: dict[int, set] = defaultdict(set)
    for row in valid["users"]:
        versions[row["user_id"]].add(row["updated_at"])
    expected = manifest["datasets"]["users"]["scd2"]["versions_per_user"]
    assert {str(k): len(v) for k, v in versions.items()} == expected


def _winners(rows: list[dict], key: str, ts: str) -> dict:
    """The winner of each key: the row with the latest `ts`."""
    out: dict = {}
    for row in rows:
        if row[key] not in out or row[ts] > out[row[key]][ts]:
            out[row[key]] = row
    return out


def test_gold_figures_match(recount):
    manifest, _, _, valid = recount
    events = _winners(valid["events"], "event_id", "event_ts")
    dau: dict[str, set] = defaultdict(set)
    for row in events.values():
        dau[row["event_ts"].strftime("%Y-%m-%d")].add(row["user_id"])
    txns = _winners(valid["transactions"], "transaction_id", "transaction_ts")
    orders: Counter = Counter()
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for row in txns.values():
        if row["status"] == "completed":
            orders[row["transaction_ts"].strftime("%Y-%m-%d")] += 1
            revenue[row["currency"]] += row["amount"]
    gold = manifest["gold"]
    assert {d: len(u) for d, u in dau.items()} == gold["daily_active_users"]
    assert dict(orders) == gold["orders_per_day"]
    assert {k: str(v) for k, v in revenue.items()} == gold["net_revenue_by_currency"]

    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    by_day_type: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in events.values():
        by_day_type[row["event_ts"].strftime("%Y-%m-%d"), row["event_type"]].append(row["user_id"])
    for (day, event_type), users in by_day_type.items():
        counts[day][event_type] = {"event_count": len(users), "unique_users": len(set(users))}
    assert counts == gold["daily_event_counts"]

    assert Counter(r["status"] for r in txns.values()) == gold["transactions_by_status"]
    money: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: {"completed": Decimal("0.00"), "refunded": Decimal("0.00")}
    )
    buyers: dict[int, list[str]] = defaultdict(list)
    for row in txns.values():
        day = row["transaction_ts"].strftime("%Y-%m-%d")
        if row["status"] in ("completed", "refunded"):
            money[day, row["currency"]][row["status"]] += row["amount"]
        if row["status"] == "completed":
            buyers[row["user_id"]].append(day)
    daily_revenue: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for (day, currency), m in money.items():
        gross = m["completed"] + m["refunded"]
        daily_revenue[day][currency] = {
            "gross": str(gross),
            "refunds": str(m["refunded"]),
            "net": str(m["completed"]),
        }
    assert daily_revenue == gold["daily_revenue"]
    ltv = gold["user_ltv"]
    assert ltv["buyers"] == len(buyers)
    assert 0 < len(buyers) < manifest["datasets"]["users"]["scd2"]["users"]  # some never buy
    assert ltv["orders"] == sum(len(d) for d in buyers.values())
    for uid, row in ltv["rows"].items():
        days = buyers[int(uid)]
        assert row == {
            "orders": len(days),
            "first_order_date": min(days),
            "last_order_date": max(days),
        }, uid
    most = max(len(d) for d in buyers.values())
    assert any(r["orders"] == most for r in ltv["rows"].values())

    activity: dict[tuple[int, str], list] = defaultdict(lambda: [0, set(), 0])
    for row in events.values():
        figures = activity[row["user_id"], row["event_ts"].strftime("%Y-%m-%d")]
        figures[0] += 1
        figures[1].add(row["session_id"])
        figures[2] += row["event_type"] == "purchase"
    spend = {(u, d) for u, days in buyers.items() for d in days}
    assert gold["fact_user_activity"] == {
        "rows": len(spend | set(activity)),
        "events": sum(f[0] for f in activity.values()),
        "sessions": sum(len(f[1]) for f in activity.values()),
        "purchases": sum(f[2] for f in activity.values()),
        "rows_with_orders_only": len(spend - set(activity)),
    }
    countries = {str(r["country"]).strip().upper() for r in [*events.values(), *valid["users"]]}
    assert gold["dim_country"] == sorted(countries)


def _operational(out: Path, manifest: dict) -> tuple[dict[str, dict], list[dict]]:
    """Each operational table's final rows by key, and the inventory's every version, read from
    the upsert files batch by batch."""
    from seed_data.operational import PRIMARY_KEYS

    final: dict[str, dict] = defaultdict(dict)
    history: list[dict] = []
    for batch in manifest["batches"]:
        folder = out / f"batch-{batch['batch']:02d}" / "operational"
        for table, key in PRIMARY_KEYS.items():
            with open(folder / f"{table}.csv", newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    final[table][tuple(row[k] for k in key)] = row
                    history += [row] if table == "inventory" else []
    return final, history


def test_operational_gold_figures_match(dataset, recount):
    """Products, shipments, stock and the USD marts recounted from the written files, and the
    planted cases present: returned, late and still-open shipments, products that never sell,
    stock that ran out (some of it restocked since)."""
    from seed_data.rules import COLD_CHAIN_C, LATE_HOURS, USD_RATES

    out, manifest = dataset
    _, _, _, valid = recount
    gold = manifest["gold"]
    final, history = _operational(out, manifest)

    products = final["products"]
    assert gold["dim_product"]["rows"] == len(products)
    assert gold["dim_product"]["unit_price"] == str(
        sum(Decimal(r["unit_price"]) for r in products.values())
    )
    assert gold["dim_product"]["categories"] == Counter(r["category"] for r in products.values())

    ships = final["shipments"]
    statuses = Counter(r["status"] for r in ships.values())
    assert gold["fact_shipments"]["statuses"] == statuses
    assert statuses.keys() == {"delivered", "returned", "shipped"}
    when = lambda t: datetime.strptime(t, "%Y-%m-%d %H:%M:%S+00")  # noqa: E731
    hours = {
        k: (when(r["delivered_at"]) - when(r["shipped_at"])).total_seconds() / 3600
        for k, r in ships.items()
        if r["delivered_at"]
    }
    late = sum(h > LATE_HOURS for h in hours.values())
    assert 0 < late < len(hours)
    assert (gold["fact_shipments"]["delivered"], gold["fact_shipments"]["late"]) == (
        len(hours),
        late,
    )
    readings = {(r["device_id"], r["reading_ts"]): r for r in valid["shipment_tracking"]}
    low, high = COLD_CHAIN_C
    excursions = Counter(
        ships[(r["shipment_id"],)]["carrier"]
        for r in readings.values()
        if not low <= float(r["temperature_c"]) <= high
    )
    assert gold["fact_shipments"]["readings"] == len(readings)
    assert gold["fact_shipments"]["temperature_excursions"] == sum(excursions.values())
    per_carrier = gold["delivery_performance"]
    assert {c: f["shipments"] for c, f in per_carrier.items()} == Counter(
        r["carrier"] for r in ships.values()
    )
    assert {c: f["temperature_excursions"] for c, f in per_carrier.items()} == excursions

    stock = final["inventory"]
    sold_out = sum(r["quantity_on_hand"] == "0" for r in stock.values())
    incidents = sum(r["quantity_on_hand"] == "0" for r in history)
    assert 0 < sold_out < incidents  # some ran out, and some of those were restocked
    assert gold["inventory_health"]["out_of_stock"] == sold_out
    assert gold["inventory_history"]["out_of_stock_incidents"] == incidents
    events = _winners(valid["events"], "event_id", "event_ts")
    sold = {r["product_id"] for r in events.values() if r["event_type"] == "purchase"}
    never = {pid for (pid,) in products} - sold
    assert never, "some products never sell"
    without = sum(pid in never for pid, _ in stock)
    assert gold["inventory_health"]["rows_without_sales"] == without

    txns = _winners(valid["transactions"], "transaction_id", "transaction_ts")
    cent = Decimal("0.01")
    ltv = sum(
        (r["amount"] * USD_RATES[r["currency"]]).quantize(cent, "ROUND_HALF_UP")
        for r in txns.values()
        if r["status"] == "completed"
    )
    assert gold["user_ltv"]["ltv_usd"] == gold["customer_360"]["ltv_usd"] == str(ltv)
    net = {d: f["net_revenue_usd"] for d, f in gold["sales_daily"].items()}
    assert sum(Decimal(v) for v in net.values()) == ltv
    days = sorted(
        {r["event_ts"].strftime("%Y-%m-%d") for r in events.values()}
        | {r["transaction_ts"].strftime("%Y-%m-%d") for r in txns.values()}
    )
    span = (datetime.fromisoformat(days[-1]) - datetime.fromisoformat(days[0])).days + 1
    assert gold["dim_date"] | {"weekend_days": None} == {
        "rows": span,
        "first": days[0],
        "last": days[-1],
        "weekend_days": None,
    }
    scd2 = manifest["datasets"]["users"]["scd2"]
    assert gold["dim_users"] == {"rows": scd2["versions_total"] + 1, "current": scd2["users"]}
    segments = gold["customer_360"]["segments"]
    assert segments["prospect"] == gold["customer_360"]["rows"] - gold["user_ltv"]["buyers"]
    assert sum(segments.values()) == manifest["datasets"]["users"]["scd2"]["users"]

    # retention, recounted from the files: the month after each buyer's first order is
    # 2026-11 for October's buyers (observed), December for November's (not yet observed)
    active: dict[int, set] = defaultdict(set)
    first: dict[int, str] = {}
    for r in events.values():
        active[r["user_id"]].add(r["event_ts"].strftime("%Y-%m"))
    for r in txns.values():
        if r["status"] == "completed":
            month = r["transaction_ts"].strftime("%Y-%m")
            active[r["user_id"]].add(month)
            first[r["user_id"]] = min(first.get(r["user_id"], month), month)
    known = {int(u) for u in scd2["versions_per_user"]}
    october = [u for u, m in first.items() if m == "2026-10" and u in known]
    retained = sum("2026-11" in active[u] for u in october)
    november = sum(m == "2026-11" and u in known for u, m in first.items())
    assert 0 < retained < len(october)  # the sample has both kinds
    assert gold["customer_360"]["retention"] == {
        "2026-10": {
            "buyers": len(october),
            "retained": retained,
            "lapsed": len(october) - retained,
            "unobserved": 0,
            "retention_rate": round(retained / len(october), 6),
        },
        "2026-11": {
            "buyers": november,
            "retained": 0,
            "lapsed": 0,
            "unobserved": november,
            "retention_rate": None,
        },
    }
    for figures in gold["delivery_performance"].values():
        assert figures["return_rate"] == round(figures["returned"] / figures["delivered"], 6)
    statuses = gold["fact_shipments"]["statuses"]
    assert sum(f["returned"] for f in gold["delivery_performance"].values()) == statuses["returned"]


# ----------------------------------------------------------------------------- faults present
def test_every_file_fault_occurs_and_is_unreadable(dataset):
    out, manifest = dataset
    bad = [f for b in manifest["batches"] for f in b["files"] if f["expect"] == "quarantine"]
    assert {f["reason"] for f in bad} == {
        C.EMPTY_FILE,
        C.CORRUPT_GZIP,
        C.MALFORMED_JSON,
        C.UNREADABLE_ENCODING,
        C.CORRUPT_PARQUET,
        C.UNSUPPORTED_FORMAT,
    }
    for f in bad:
        path = out / f["path"]
        if f["reason"] == C.UNSUPPORTED_FORMAT:
            assert not path.name.endswith(C.SUPPORTED_EXTENSIONS)
            continue
        with pytest.raises((ValueError, OSError, EOFError, UnicodeDecodeError, Exception)):
            _, rows = read_rows(path)
            if not rows:
                raise ValueError("no rows")


def test_every_row_fault_occurs(recount):
    _, _, reasons, _ = recount
    seen = set().union(*[set(c) for c in reasons.values()])
    assert seen == {
        C.MISSING_REQUIRED_KEY,
        C.INVALID_TIMESTAMP,
        C.UNKNOWN_ENUM,
        C.NEGATIVE_AMOUNT,
        C.INVALID_CURRENCY,
        C.MALFORMED_EMAIL,
    }


def _all_text(out: Path, manifest: dict) -> str:
    parts = []
    for b in manifest["batches"]:
        for f in b["files"]:
            if f["expect"] == "bronze" and not f["path"].endswith(".parquet"):
                data = (out / f["path"]).read_bytes()
                parts.append(
                    (gzip.decompress(data) if f["path"].endswith(".gz") else data).decode(
                        "utf-8-sig"
                    )
                )
    return "\n".join(parts)


def test_schema_drift_and_value_faults_occur(dataset):
    out, manifest = dataset
    headers = {}
    for b in manifest["batches"]:
        for f in b["files"]:
            if f["expect"] == "bronze":
                headers[f["path"]] = read_rows(out / f["path"])[0]
    flat = {h for cols in headers.values() for h in cols}
    assert {"event_id", "eventId", "EventId", "EVENT_ID", "Event Id"} <= flat  # name variants
    assert "INGEST_HOST" in flat  # extra unknown column
    events = [cols for p, cols in headers.items() if "/events/" in p]
    assert any(not any(_norm(c) == "properties" for c in cols) for cols in events)  # missing
    canonical_order = [_norm(c) for c in C.CANONICAL_COLUMNS["events"]]
    assert any([_norm(c) for c in cols] != canonical_order[: len(cols)] for cols in events)

    text = _all_text(out, manifest)
    raw1 = next(p for p in headers if p.startswith("batch-01/raw/events/") and p.endswith("c.csv"))
    assert (out / raw1).read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    assert b"\r\n" in (out / raw1).read_bytes()  # CRLF
    assert re.search(r'"userId": "\d+"', text)  # a number arriving as a string
    patterns = {
        "iso_z": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        "iso_offset": r"T\d\d:\d\d:\d\d[+-]\d\d:\d\d",
        "space": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
        "epoch_s": r"\b\d{10}\b",
        "epoch_ms": r"\b\d{13}\b",
        "day_first": r"\d\d/\d\d/\d{4} \d\d:\d\d",
    }
    for fmt, pattern in patterns.items():
        assert re.search(pattern, text), f"timestamp format {fmt} missing"
    for spelling in ("null", "NULL", "None", "N/A"):
        assert re.search(rf'(,|"){re.escape(spelling)}(,|"|\r?\n)', text), spelling
    assert re.search(r"[$€£]\d{1,3}(,\d{3})+\.\d\d", text)  # symbol + thousands separator
    assert re.search(r"(PAGE_VIEW|Page_View| page_view )", text)  # mixed case, stray spaces


def test_duplicates_and_late_data_occur(dataset):
    _, manifest = dataset
    for ds in ("events", "transactions"):
        dups = manifest["datasets"][ds]["duplicates_dropped"]
        assert dups["exact"] > 0 and dups["superseded_by_later"] > 0, ds
    assert manifest["datasets"]["events"]["late_rows"] > 0
    assert manifest["datasets"]["users"]["scd2"]["users_by_version_count"].keys() > {"1"}
    ops = manifest["operational"]["batches"]
    assert all(b["upserted"]["products"] > 0 and b["upserted"]["shipments"] > 0 for b in ops)


def test_scale_sets_volume():
    from seed_data.generate import Plan

    assert Plan(1).n_events == 1_000_000
    assert Plan(0.01).n_events == 10_000
    assert Plan(0.1).n_events == 100_000 and Plan(0.1).n_transactions == 10_000
    assert Plan(0.01).day(3) - Plan(0.01).day(1) == timedelta(days=2)


def test_committed_sample_is_what_the_generator_writes(dataset):
    out, _ = dataset
    sample = Path(__file__).parents[2] / "seed_data" / "sample"
    assert _digest(sample) == _digest(out), "stale sample: run `make sample` and commit it"
