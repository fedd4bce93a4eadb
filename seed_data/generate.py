"""The reference e-commerce dataset: four file sources landing in RAW over several daily
batches, an operational PostgreSQL source changing between batches, planted faults of every
kind in seed_data/contract.py, and a ground-truth manifest computed from what was generated.

Deterministic for a seed (byte-identical files and manifest) and streamed to disk, so large
scales never hold the dataset in memory. Bad rows are extra rows: they never replace a valid
one, so the valid data (and the gold figures) do not depend on which faults were planted.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from seed_data import contract as C
from seed_data.truth import Gold, Shop, figures
from seed_data.writers import CsvSink, JsonArraySink, NdjsonSink, ParquetSink, Sink

GENERATOR_VERSION = 3
# The first day of data. The sample's three days cross a month boundary (Oct 31 -> Nov 2), so the
# month after a first purchase is observed for some buyers (customer_360's retention).
START = date(2026, 10, 31)
OFFSETS = (timedelta(hours=2), timedelta(hours=-5), timedelta(hours=5, minutes=30))
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
NULL = object()  # an optional value that is absent; each file spells it its own way
RATE_BAD, RATE_EXACT_DUP, RATE_RESEND, RATE_LATE = 0.02, 0.01, 0.01, 0.03
ACTIVE = (0.55, 0.85)  # the share of users with events on a day, drawn per day
WAREHOUSES = ("WH-EAST", "WH-WEST", "WH-EU")
CARRIERS = ("UPS", "DHL", "FedEx", "InPost")
RATE_SOLD_OUT, RATE_RETURNED = 0.08, 0.1


@dataclass(frozen=True)
class Plan:
    scale: float
    seed: int = 42
    batches: int = 3
    start: date = START

    @property
    def n_events(self) -> int:
        return max(300, round(1_000_000 * self.scale))

    @property
    def n_transactions(self) -> int:
        return max(150, round(100_000 * self.scale))

    @property
    def n_users(self) -> int:
        return max(60, round(20_000 * self.scale))

    @property
    def n_products(self) -> int:
        return max(30, round(2_000 * self.scale))

    def day(self, batch: int) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC) + timedelta(days=batch - 1)


# ----------------------------------------------------------------------------- rendering
def _words(col: str) -> list[str]:
    return col.split("_")


NAMINGS: dict[str, Callable[[str], str]] = {
    "snake": lambda c: c,
    "camel": lambda c: _words(c)[0] + "".join(w.title() for w in _words(c)[1:]),
    "pascal": lambda c: "".join(w.title() for w in _words(c)),
    "upper": lambda c: c.upper(),
    "spaced": lambda c: " ".join(w.title() for w in _words(c)),
}


@dataclass
class Style:
    """How one file spells its data: format, column names, order, drift."""

    name: str
    kind: str  # csv | txt | ndjson | json | parquet
    naming: str = "snake"
    gz: bool = False
    crlf: bool = False
    bom: bool = False
    shuffle_columns: bool = False
    drop: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    numbers_as_strings: bool = False
    int_columns: tuple[str, ...] = ()  # typed int64 columns (Parquet)

    def sink(self, path: Path, dataset: str, rng: random.Random) -> Sink:
        cols = [c for c in C.CANONICAL_COLUMNS[dataset] if c not in self.drop]
        if self.shuffle_columns:
            rng.shuffle(cols)
        names = [NAMINGS[self.naming](c) for c in cols] + list(self.extra)
        self.columns = cols
        if self.kind in ("csv", "txt"):
            return CsvSink(
                path, names, "|" if self.kind == "txt" else ",", self.crlf, self.bom, self.gz
            )
        if self.kind == "ndjson":
            return NdjsonSink(path, names, self.gz)
        if self.kind == "json":
            return JsonArraySink(path, names)
        types = {NAMINGS[self.naming](c): pa.int64() for c in self.int_columns}
        return ParquetSink(path, names, types)

    def render(self, values: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for col in self.columns:
            v = values.get(col, NULL)
            if v is NULL:
                if (
                    self.kind in ("ndjson", "json")
                    and rng.random() < 0.5
                    or col in self.int_columns
                ):
                    v = None
                else:
                    v = rng.choice((*C.NULL_SPELLINGS, "  "))
            elif isinstance(v, dict):
                v = v if self.kind in ("ndjson", "json") else json.dumps(v, sort_keys=True)
            elif (
                isinstance(v, int | float)
                and (self.numbers_as_strings or self.kind == "parquet")
                and col not in self.int_columns
            ):
                v = str(v)
            row[NAMINGS[self.naming](col)] = v
        for name, value in self.extra.items():
            row[name] = value
        return row


def render_ts(ts: datetime, rng: random.Random) -> tuple[datetime, str]:
    """Pick an accepted spelling; returns the instant it denotes (day-first drops seconds)."""
    fmt = rng.choice(C.TIMESTAMP_FORMATS)
    if fmt == "day_first":
        ts = ts.replace(second=0)
        return ts, ts.strftime("%d/%m/%Y %H:%M")
    if fmt == "iso_offset":
        off = rng.choice(OFFSETS)
        sign = "+" if off >= timedelta(0) else "-"
        hours, rem = divmod(abs(int(off.total_seconds())), 3600)
        local = (ts + off).strftime("%Y-%m-%dT%H:%M:%S")
        return ts, f"{local}{sign}{hours:02d}:{rem // 60:02d}"
    if fmt == "space":
        return ts, ts.strftime("%Y-%m-%d %H:%M:%S")
    if fmt == "epoch_s":
        return ts, str(int(ts.timestamp()))
    if fmt == "epoch_ms":
        return ts, str(int(ts.timestamp()) * 1000)
    return ts, ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def noisy_enum(value: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.7:
        return value
    return rng.choice((value.upper(), value.title(), f" {value} ", f"{value.capitalize()}  "))


def render_amount(amount: Decimal, currency: str, rng: random.Random) -> str:
    plain = f"{amount:.2f}"
    grouped = f"{amount:,.2f}"
    options = [plain, grouped, f" {plain} "]
    if currency in SYMBOLS:
        options.append(f"{SYMBOLS[currency]}{grouped}")
    return rng.choice(options)


# ----------------------------------------------------------------------------- bookkeeping
@dataclass
class DatasetTally:
    rows_in: int = 0
    silver_rows: int = 0
    quarantined: Counter = field(default_factory=Counter)
    exact_duplicates: int = 0
    resent_superseded: int = 0
    late_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "silver_rows": self.silver_rows,
            "quarantined_rows": dict(sorted(self.quarantined.items())),
            "duplicates_dropped": {
                "exact": self.exact_duplicates,
                "superseded_by_later": self.resent_superseded,
            },
            "late_rows": self.late_rows,
        }


class Batch:
    """The open files of one dataset in one batch; rows are spread over them at random."""

    def __init__(self, gen: Generator, dataset: str, batch: int, styles: list[Style]) -> None:
        self.gen, self.dataset, self.batch = gen, dataset, batch
        self.rng = gen.rng(dataset, batch, "files")
        self.sinks: list[tuple[Style, Sink]] = []
        date = gen.plan.day(batch).strftime("%Y-%m-%d")
        for style in styles:
            ext = {
                "csv": "csv",
                "txt": "txt",
                "ndjson": "ndjson",
                "json": "json",
                "parquet": "parquet",
            }[style.kind]
            name = f"{dataset}_{date}_{style.name}.{ext}" + (".gz" if style.gz else "")
            path = gen.raw_dir(batch, dataset) / name
            self.sinks.append((style, style.sink(path, dataset, self.rng)))
        self.pending: list[tuple[int, dict[str, Any]]] = []  # rows written at file end

    def write(self, values: dict[str, Any], sink_index: int | None = None) -> int:
        index = self.rng.randrange(len(self.sinks)) if sink_index is None else sink_index
        style, sink = self.sinks[index]
        sink.write(style.render(values, self.rng))
        self.gen.tally[self.dataset].rows_in += 1
        return index

    def later(self, values: dict[str, Any], sink_index: int) -> None:
        self.pending.append((sink_index, values))
        if len(self.pending) >= 2000:  # bounded memory: re-sends land a few thousand rows later
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for index, values in pending:
            self.write(values, index)

    def close(self) -> None:
        self.flush()
        for style, sink in self.sinks:
            sink.close()
            self.gen.file_entry(self.batch, self.dataset, sink.path, style.kind, sink.rows)


class Generator:
    def __init__(self, plan: Plan, out: Path, progress: Callable[[int], None] | None = None):
        self.plan, self.out = plan, out
        self.progress = progress or (lambda n: None)
        self.tally: dict[str, DatasetTally] = defaultdict(DatasetTally)
        self.gold = Gold()
        self.files: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.scd2_versions: dict[int, int] = {}
        self.operational: dict[str, Any] = {}
        self.carry: dict[str, list[dict[str, Any]]] = defaultdict(list)  # resent into next batch
        self.completed_by_batch: dict[int, list[tuple[str, datetime, Decimal]]] = defaultdict(list)
        self.tracking_keys: set[tuple[str, datetime]] = set()  # (device_id, reading instant)
        self.shop = Shop()
        self.new_shipments: dict[int, list[tuple[str, datetime]]] = {}
        self.delivered_before: list[str] = []  # shipment ids delivered on the day before

    # helpers -----------------------------------------------------------------
    def rng(self, *parts: object) -> random.Random:
        return random.Random(f"{self.plan.seed}:" + ":".join(map(str, parts)))

    def batch_dir(self, batch: int) -> Path:
        return self.out / f"batch-{batch:02d}"

    def raw_dir(self, batch: int, dataset: str) -> Path:
        return self.batch_dir(batch) / "raw" / dataset

    def file_entry(
        self,
        batch: int,
        dataset: str,
        path: Path,
        fmt: str,
        rows: int,
        expect: str = "bronze",
        reason: str | None = None,
    ) -> None:
        entry = {
            "path": path.relative_to(self.out).as_posix(),
            "dataset": dataset,
            "format": fmt,
            "rows": rows,
            "expect": expect,
        }
        if reason:
            entry["reason"] = reason
        self.files[batch].append(entry)

    def ts_in_day(self, rng: random.Random, batch: int) -> datetime:
        # Up to 22:00 so a re-send up to an hour later stays on the same day.
        return self.plan.day(batch) + timedelta(seconds=rng.randrange(22 * 3600))

    # the run -----------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        for batch in range(1, self.plan.batches + 1):
            self.users(batch)
            self.events(batch)
            self.transactions(batch)
            self.operational_batch(batch)
            self.tracking(batch)
            self.file_faults(batch)
        return self.manifest()

    def split(self, total: int, batch: int) -> int:
        base, rest = divmod(total, self.plan.batches)
        return base + (1 if batch <= rest else 0)

    def emit(
        self,
        b: Batch,
        dataset: str,
        make: Callable[
            [random.Random, datetime], tuple[dict[str, Any], Callable[[dict[str, Any]], None]]
        ],
        n: int,
        faults: dict[str, Callable[[dict[str, Any], random.Random], None]],
        resend: Callable[[dict[str, Any], random.Random], dict[str, Any]] | None,
        ts_col: str,
    ) -> None:
        """Write n logical records (each valid) plus planted bad rows and duplicates."""
        rng = self.rng(dataset, b.batch, "rows")
        tally = self.tally[dataset]
        for values in self.carry.pop(dataset, []):  # later versions re-sent from the last batch
            b.write(values)
            tally.late_rows += 1
        for _ in range(n):
            ts = self.ts_in_day(rng, b.batch)
            if b.batch > 1 and ts_col == "event_ts" and rng.random() < RATE_LATE:
                ts -= timedelta(days=rng.randint(1, b.batch - 1))
                tally.late_rows += 1
            values, accept = make(rng, ts)
            fate = rng.random()
            if resend and fate < RATE_RESEND:
                winner = resend(values, rng)
                b.write(values)
                tally.resent_superseded += 1
                if b.batch < self.plan.batches:
                    self.carry[dataset].append(winner)
                else:
                    b.later(winner, rng.randrange(len(b.sinks)))
                accept(winner)
            else:
                index = b.write(values)
                if fate < RATE_RESEND + RATE_EXACT_DUP:
                    b.later(values, index)
                    tally.exact_duplicates += 1
                accept(values)
            tally.silver_rows += 1
            if rng.random() < RATE_BAD:
                reason = rng.choice(sorted(faults))
                bad, _ = make(rng, self.ts_in_day(rng, b.batch))
                faults[reason](bad, rng)
                b.write(bad)
                tally.quarantined[reason] += 1
            self.progress(1)

    # datasets ----------------------------------------------------------------
    def _ts(self, values: dict[str, Any], col: str, ts: datetime, rng: random.Random) -> datetime:
        real, text = render_ts(ts, rng)
        values[col] = text
        values[f"_{col}"] = real
        return real

    def events(self, batch: int) -> None:
        styles = [
            Style("a", "ndjson"),
            Style("b", "json", naming="camel", numbers_as_strings=True),
            Style("c", "csv", naming="pascal", shuffle_columns=True, crlf=True, bom=batch == 1),
            Style("d", "ndjson", naming="upper", gz=True, extra={"INGEST_HOST": "edge-7"}),
            Style("e", "csv", naming="spaced", drop=("properties",)),
        ]
        b = Batch(self, "events", batch, styles)
        counter = iter(range(10**9))
        n_users, n_products = self.plan.n_users, self.plan.n_products
        # Each day only part of the users is active, a share that varies by day, so that daily
        # active users stay below the user count and a lost or doubled day moves them.
        pick = self.rng("events", batch, "active")
        active = sorted(pick.sample(range(1, n_users + 1), round(n_users * pick.uniform(*ACTIVE))))

        def make(rng: random.Random, ts: datetime):
            etype = rng.choice(C.EVENT_TYPES)
            values: dict[str, Any] = {
                "event_id": f"evt-{batch:02d}-{next(counter):08d}",
                "user_id": rng.choice(active),
                "event_type": noisy_enum(etype, rng),
                "session_id": f"s-{rng.randint(1, n_users * 3):07d}",
                "device": noisy_enum(rng.choice(C.DEVICES), rng),
                "country": rng.choice(C.COUNTRIES)
                if rng.random() < 0.8
                else rng.choice(C.COUNTRIES).lower(),
                "product_id": f"p-{rng.randint(1, n_products):05d}"
                if etype in ("product_view", "add_to_cart", "remove_from_cart", "purchase")
                else NULL,
                "properties": {"referrer": rng.choice(("ads", "email", "direct"))}
                if rng.random() < 0.5
                else NULL,
            }
            self._ts(values, "event_ts", ts, rng)

            def accept(v: dict[str, Any]) -> None:
                day = v["_event_ts"].strftime("%Y-%m-%d")
                product = v["product_id"] if v["product_id"] is not NULL else None
                self.gold.event(day, etype, v["user_id"], v["session_id"], v["country"], product)
                if etype == "purchase" and product:
                    self.gold.purchase(v["_event_ts"], product)

            return values, accept

        def resend(values: dict[str, Any], rng: random.Random) -> dict[str, Any]:
            later = dict(values)
            self._ts(
                later,
                "event_ts",
                values["_event_ts"] + timedelta(seconds=rng.randint(61, 3600)),
                rng,
            )
            return later

        faults = {
            C.MISSING_REQUIRED_KEY: lambda v, r: v.update(event_id=NULL),
            C.INVALID_TIMESTAMP: lambda v, r: v.update(
                event_ts=r.choice(("yesterday", "2026-13-45 25:61:00", "31/02/2026 10:00:99"))
            ),
            C.UNKNOWN_ENUM: lambda v, r: v.update(event_type=r.choice(("teleport", "hover"))),
        }
        self.emit(
            b, "events", make, self.split(self.plan.n_events, batch), faults, resend, "event_ts"
        )
        b.close()

    def transactions(self, batch: int) -> None:
        styles = [
            Style("a", "csv"),
            Style("b", "txt", naming="camel"),
            Style("c", "parquet", int_columns=("user_id",)),
            Style("d", "csv", naming="upper", gz=True, shuffle_columns=True),
        ]
        b = Batch(self, "transactions", batch, styles)
        counter = iter(range(10**9))

        def make(rng: random.Random, ts: datetime):
            currency = rng.choice(C.CURRENCIES)
            amount = Decimal(rng.randint(100, 250_000)) / 100
            status = rng.choices(C.TRANSACTION_STATUSES, weights=(60, 15, 10, 8, 7))[0]
            values: dict[str, Any] = {
                "transaction_id": f"txn-{batch:02d}-{next(counter):08d}",
                "user_id": rng.randint(1, self.plan.n_users),
                "amount": render_amount(amount, currency, rng),
                "_amount": amount,
                "currency": currency if rng.random() < 0.85 else currency.lower(),
                "status": noisy_enum(status, rng),
                "_status": status,
                "payment_method": rng.choice(C.PAYMENT_METHODS) if rng.random() < 0.9 else NULL,
            }
            self._ts(values, "transaction_ts", ts, rng)

            def accept(v: dict[str, Any]) -> None:
                day = v["_transaction_ts"].strftime("%Y-%m-%d")
                currency = v["currency"].upper()
                self.gold.transaction(day, v["_status"], currency, v["_amount"], v["user_id"])
                if v["_status"] == "completed":
                    self.completed_by_batch[batch].append(
                        (v["transaction_id"], v["_transaction_ts"], v["_amount"])
                    )

            return values, accept

        def resend(values: dict[str, Any], rng: random.Random) -> dict[str, Any]:
            later = dict(values)  # a pending payment settles: the later record wins
            later.update(status=noisy_enum("completed", rng), _status="completed")
            self._ts(
                later,
                "transaction_ts",
                values["_transaction_ts"] + timedelta(seconds=rng.randint(61, 3600)),
                rng,
            )
            return later

        faults = {
            C.MISSING_REQUIRED_KEY: lambda v, r: v.update(transaction_id=NULL),
            C.INVALID_TIMESTAMP: lambda v, r: v.update(transaction_ts="not-a-time"),
            C.UNKNOWN_ENUM: lambda v, r: v.update(status="lost_in_space"),
            C.NEGATIVE_AMOUNT: lambda v, r: v.update(amount=f"-{v['_amount']:.2f}"),
            C.INVALID_CURRENCY: lambda v, r: v.update(currency=r.choice(("ABC", "EURO", "$$"))),
        }
        self.emit(
            b,
            "transactions",
            make,
            self.split(self.plan.n_transactions, batch),
            faults,
            resend,
            "transaction_ts",
        )
        b.close()

    def users(self, batch: int) -> None:
        rng = self.rng("users", batch)
        day = self.plan.day(batch)
        tally = self.tally["users"]
        if batch == 1:
            b = Batch(self, "users", batch, [Style("snapshot", "csv", naming="pascal")])
            self.user_state: dict[int, dict[str, Any]] = {}
            targets = range(1, self.plan.n_users + 1)
        else:
            b = Batch(
                self,
                "users",
                batch,
                [Style("changes", "json", naming="camel", numbers_as_strings=True)],
            )
            targets = sorted(
                rng.sample(range(1, self.plan.n_users + 1), max(1, self.plan.n_users // 10))
            )
        for user_id in targets:
            if batch == 1:
                signup = self.plan.day(1) - timedelta(
                    days=rng.randint(1, 900), seconds=rng.randrange(86400)
                )
                state = {
                    "user_id": user_id,
                    "email": f"user{user_id}@example.com",
                    "full_name": f"User {user_id}",
                    "country": rng.choice(C.COUNTRIES),
                    "signup_ts": signup.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "status": "active",
                }
                ts = signup
            else:
                state = dict(self.user_state[user_id])
                change = rng.choice(("country", "status", "email"))
                if change == "country":
                    state["country"] = rng.choice([c for c in C.COUNTRIES if c != state["country"]])
                elif change == "status":
                    state["status"] = rng.choice(
                        [s for s in C.USER_STATUSES if s != state["status"]]
                    )
                else:
                    state["email"] = f"user{user_id}.b{batch}@example.org"
                ts = day + timedelta(seconds=rng.randrange(22 * 3600))
            self.user_state[user_id] = state
            self.gold.countries.add(state["country"])
            values = dict(state, status=noisy_enum(state["status"], rng))
            self._ts(values, "updated_at", ts, rng)
            index = b.write(values)
            self.scd2_versions[user_id] = self.scd2_versions.get(user_id, 0) + 1
            tally.silver_rows += 1
            if rng.random() < RATE_EXACT_DUP:
                b.later(values, index)
                tally.exact_duplicates += 1
            if rng.random() < RATE_BAD * 2:
                reason = rng.choice(
                    (C.MALFORMED_EMAIL, C.MISSING_REQUIRED_KEY, C.UNKNOWN_ENUM, C.INVALID_TIMESTAMP)
                )
                bad = dict(values)
                self._ts(bad, "updated_at", ts + timedelta(seconds=1), rng)
                if reason == C.MALFORMED_EMAIL:
                    bad["email"] = rng.choice(
                        (f"user{user_id}@", "no-at-sign.example.com", "two words@example.com")
                    )
                elif reason == C.MISSING_REQUIRED_KEY:
                    bad["user_id"] = NULL
                elif reason == C.UNKNOWN_ENUM:
                    bad["status"] = "vacationing"
                else:
                    bad["updated_at"] = "last tuesday"
                b.write(bad)
                tally.quarantined[reason] += 1
            self.progress(1)
        b.close()

    def tracking(self, batch: int) -> None:
        b = Batch(self, "shipment_tracking", batch, [Style("a", "json"), Style("b", "ndjson")])
        rng = self.rng("tracking", batch)
        tally = self.tally["shipment_tracking"]
        for shipment_id, shipped_at in self.new_shipments.get(batch, []):
            device = f"dev-{rng.randint(1, 500):04d}"
            for k in range(3):
                values: dict[str, Any] = {
                    "device_id": device,
                    "shipment_id": shipment_id,
                    "lat": round(rng.uniform(-60, 70), 5),
                    "lon": round(rng.uniform(-150, 150), 5),
                    "temperature_c": round(rng.gauss(5, 2.5), 2),
                    "status_code": rng.choice(("OK", "OK", "OK", "DELAYED", "DOOR_OPEN")),
                }
                self._ts(values, "reading_ts", shipped_at + timedelta(minutes=20 * (k + 1)), rng)
                # Devices are shared, so two shipments could put a reading of one device at the
                # same second (more often at larger scales); a device reads once a second, so
                # the later shipment's reading moves to the next free second and every reading
                # keeps its own key (device_id, reading_ts).
                while (device, values["_reading_ts"]) in self.tracking_keys:
                    values["_reading_ts"] += timedelta(seconds=1)
                self.tracking_keys.add((device, values["_reading_ts"]))
                values["reading_ts"] = values["_reading_ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
                index = b.write(values)
                tally.silver_rows += 1
                self.shop.temperatures[shipment_id].append(values["temperature_c"])
                if rng.random() < RATE_EXACT_DUP * 3:  # devices re-send on reconnect
                    b.later(values, index)
                    tally.exact_duplicates += 1
                if rng.random() < RATE_BAD:
                    reason = rng.choice((C.MISSING_REQUIRED_KEY, C.INVALID_TIMESTAMP))
                    bad = dict(values, device_id=f"dev-bad-{rng.randint(1, 9)}")
                    if reason == C.MISSING_REQUIRED_KEY:
                        bad["shipment_id"] = NULL
                    else:
                        bad["reading_ts"] = "1970-00-00"
                    b.write(bad)
                    tally.quarantined[reason] += 1
        b.close()

    # operational source ------------------------------------------------------
    def operational_batch(self, batch: int) -> None:
        """Upserts for products, inventory and shipments, as the OLTP system made them that day:
        products added (the later ones never sell: events pick from the first catalogue) and
        repriced, stock counted (some of it out, some restocked), shipments sent, delivered
        (some late) and returned; the last day's stay open."""
        rng = self.rng("operational", batch)
        day = self.plan.day(batch)
        folder = self.batch_dir(batch) / "operational"
        shop = self.shop
        stamp = lambda: (day + timedelta(seconds=rng.randrange(86400))).strftime(  # noqa: E731
            "%Y-%m-%d %H:%M:%S+00"
        )
        changed: dict[str, list[dict[str, Any]]] = {
            "products": [],
            "inventory": [],
            "shipments": [],
        }

        def count_stock(pid: str, wh: str, qty: int) -> None:
            row = {"product_id": pid, "warehouse_id": wh, "quantity_on_hand": qty}
            row["updated_at"] = stamp()
            shop.inventory[pid, wh] = row
            shop.inventory_history.append(row)
            changed["inventory"].append(row)

        def ship(row: dict[str, Any], **change: Any) -> None:
            row = dict(row, updated_at=stamp(), **change)
            shop.shipments[row["shipment_id"]] = row
            changed["shipments"].append(row)

        n_products = self.plan.n_products
        if batch == 1:
            new_ids = range(1, n_products + 1)
            updates: list[str] = []
        else:
            start = len(shop.products) + 1
            new_ids = range(start, start + max(1, n_products // 20))
            updates = sorted(rng.sample(sorted(shop.products), max(1, n_products // 10)))
        for i in new_ids:
            pid = f"p-{i:05d}"
            shop.products[pid] = {
                "product_id": pid,
                "name": f"Product {i}",
                "category": rng.choice(("books", "garden", "toys", "food", "electronics")),
                "unit_price": f"{Decimal(rng.randint(199, 99_999)) / 100:.2f}",
                "updated_at": stamp(),
            }
            shop.price_changed(shop.products[pid])
            changed["products"].append(shop.products[pid])
            for wh in WAREHOUSES:
                qty = rng.randint(0, 500)
                count_stock(pid, wh, 0 if rng.random() < RATE_SOLD_OUT else qty)
        for pid in updates:
            price = Decimal(shop.products[pid]["unit_price"]) * Decimal("1.05")
            shop.products[pid] = dict(
                shop.products[pid], unit_price=f"{price:.2f}", updated_at=stamp()
            )
            shop.price_changed(shop.products[pid])
            changed["products"].append(shop.products[pid])
            qty = rng.randint(0, 500)
            count_stock(pid, rng.choice(WAREHOUSES), 0 if rng.random() < RATE_SOLD_OUT * 3 else qty)
        counted = {(r["product_id"], r["warehouse_id"]) for r in changed["inventory"]}
        sold_out = sorted(
            k for k, r in shop.inventory.items() if r["quantity_on_hand"] == 0 and k not in counted
        )
        if batch > 1 and sold_out:  # one sold-out row is restocked each day
            count_stock(*sold_out[0], rng.randint(1, 500))
        for sid in self.delivered_before:  # some of what arrived yesterday comes back
            if rng.random() < RATE_RETURNED:
                ship(shop.shipments[sid], status="returned")
        self.delivered_before = []
        for sid, row in sorted(shop.shipments.items()):  # yesterday's shipments arrive
            if row["status"] == "shipped":
                delivered = datetime.fromisoformat(row["shipped_at"]) + timedelta(
                    hours=rng.randint(12, 60)  # late (over 48 hours) about one time in four
                )
                ship(row, status="delivered", delivered_at=f"{delivered:%Y-%m-%d %H:%M:%S}+00")
                self.delivered_before.append(sid)
        new: list[tuple[str, datetime]] = []
        for txn_id, ts, _amount in self.completed_by_batch.pop(batch, []):
            if rng.random() < 0.6:
                sid = "shp-" + txn_id.removeprefix("txn-")
                shipped = ts + timedelta(minutes=rng.randint(30, 600))
                row = {
                    "shipment_id": sid,
                    "transaction_id": txn_id,
                    "carrier": rng.choice(CARRIERS),
                    "shipped_at": shipped.strftime("%Y-%m-%d %H:%M:%S+00"),
                    "delivered_at": None,
                    "status": "shipped",
                    "shipping_cost": f"{Decimal(rng.randint(300, 4000)) / 100:.2f}",
                    "created_at": stamp(),
                }
                ship(row)
                new.append((sid, shipped))
        self.new_shipments[batch] = new
        from seed_data.operational import TABLE_COLUMNS, write_upserts

        for table, rows in changed.items():
            write_upserts(folder / f"{table}.csv", TABLE_COLUMNS[table], rows)
        ops = self.operational.setdefault("batches", [])
        ops.append({"batch": batch, "upserted": {t: len(r) for t, r in changed.items()}})
        self.operational["final_rows"] = {
            "products": len(shop.products),
            "inventory": len(shop.inventory),
            "shipments": len(shop.shipments),
        }

    # file-level faults -------------------------------------------------------
    def file_faults(self, batch: int) -> None:
        """Each file-level fault lands once, spread over the batches."""
        date = self.plan.day(batch).strftime("%Y-%m-%d")
        plan = {
            1: [
                ("events", f"events_{date}_empty.ndjson", b"", C.EMPTY_FILE),
                (
                    "shipment_tracking",
                    f"shipment_tracking_{date}_broken.json",
                    b'[{"device_id": "dev-0001", "shipment_id": "shp-01-0',
                    C.MALFORMED_JSON,
                ),
            ],
            2: [
                (
                    "transactions",
                    f"transactions_{date}_truncated.csv.gz",
                    _truncated_gzip(b"transaction_id,user_id\ntxn-x,1\n" * 50),
                    C.CORRUPT_GZIP,
                ),
                (
                    "events",
                    f"events_{date}_junk.csv",
                    bytes(self.rng("junk").randbytes(2048)),
                    C.UNREADABLE_ENCODING,
                ),
            ],
            3: [
                (
                    "transactions",
                    f"transactions_{date}_fake.parquet",
                    b"PAR1" + bytes(self.rng("fake").randbytes(512)) + b"PAR1",
                    C.CORRUPT_PARQUET,
                ),
                (
                    "users",
                    f"users_{date}_export.xlsx",
                    b"PK\x03\x04not really a workbook",
                    C.UNSUPPORTED_FORMAT,
                ),
            ],
        }
        due = plan.get(batch, [])
        if batch == self.plan.batches:  # fewer batches than planned: land the rest now
            due = [f for k, fs in sorted(plan.items()) if k >= batch for f in fs]
        for dataset, name, data, reason in due:
            path = self.raw_dir(batch, dataset) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.file_entry(batch, dataset, path, name.rsplit(".", 1)[-1], 0, "quarantine", reason)

    def manifest(self) -> dict[str, Any]:
        datasets = {name: t.as_dict() for name, t in sorted(self.tally.items())}
        versions = Counter(self.scd2_versions.values())
        datasets["users"]["scd2"] = {
            "users": len(self.scd2_versions),
            "versions_total": sum(self.scd2_versions.values()),
            "users_by_version_count": {str(k): v for k, v in sorted(versions.items())},
            "versions_per_user": {str(k): v for k, v in sorted(self.scd2_versions.items())},
        }
        return {
            "generator_version": GENERATOR_VERSION,
            "seed": self.plan.seed,
            "scale": self.plan.scale,
            "start": self.plan.start.isoformat(),
            "batches": [
                {
                    "batch": k,
                    "date": self.plan.day(k).strftime("%Y-%m-%d"),
                    "files": sorted(self.files[k], key=lambda f: f["path"]),
                }
                for k in range(1, self.plan.batches + 1)
            ],
            "datasets": datasets,
            "operational": self.operational,
            "gold": figures(self.gold, self.shop, self.user_state, self.scd2_versions),
        }


def _truncated_gzip(data: bytes) -> bytes:
    import gzip

    whole = gzip.compress(data, mtime=0)
    return whole[: len(whole) // 2]


def generate(
    out: Path,
    scale: float = 0.01,
    seed: int = 42,
    batches: int = 3,
    progress: bool = False,
    start: date = START,
) -> dict[str, Any]:
    """Write the dataset under `out` and return the manifest (also written to manifest.json);
    the first batch is the day `start`, each next batch the day after."""
    plan = Plan(scale, seed, batches, start)
    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(
                f"generating scale {scale}",
                total=plan.n_events + plan.n_transactions + plan.n_users,
            )
            manifest = Generator(plan, out, lambda n: bar.advance(task, n)).run()
    else:
        manifest = Generator(plan, out).run()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def iter_raw_files(out: Path, batch: int) -> Iterator[tuple[str, Path]]:
    """(dataset, path) of every RAW file of a batch, as an upstream system would drop them."""
    root = out / f"batch-{batch:02d}" / "raw"
    for dataset_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(dataset_dir.iterdir()):
            yield dataset_dir.name, path
