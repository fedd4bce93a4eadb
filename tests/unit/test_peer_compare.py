"""The row-for-row comparison of two engines' SILVER and GOLD tables: agreement gives nothing,
and each kind of difference is named with its table, key and both values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.peer_compare import compare_gold, compare_silver, compare_table

pytestmark = pytest.mark.unit


def _rows(n: int = 3) -> list[dict]:
    return [
        {"revenue_date": date(2026, 11, d), "currency": "EUR", "net": Decimal(f"{d}0.50")}
        for d in range(1, n + 1)
    ]


def test_equal_tables_give_no_difference():
    assert compare_table("daily_revenue", _rows(), list(reversed(_rows()))) == []


def test_a_changed_value_a_missing_row_and_a_doubled_key_are_named():
    peer = _rows()
    peer[0] = {**peer[0], "net": Decimal("10.51")}
    peer = peer[:2] + [peer[1]]
    got = compare_table("daily_revenue", _rows(), peer)
    assert any(
        "daily_revenue" in d and "2026, 11, 1" in d and "net" in d and "10.51" in d and "10.50" in d
        for d in got
    ), got
    assert any("only in spark" in d and "2026, 11, 3" in d for d in got), got
    assert any("peer has key" in d and "twice" in d for d in got), got


def test_decimal_scale_and_float_noise_do_not_count_but_columns_do():
    a = [{"carrier": "DHL", "cost": Decimal("12.30"), "p50": 1.0000001}]
    b = [{"carrier": "DHL", "cost": Decimal("12.3"), "p50": 1.0000002}]
    assert compare_table("delivery_performance", a, b) == []
    c = [{"carrier": "DHL", "cost": Decimal("12.3")}]
    assert "columns differ" in compare_table("delivery_performance", a, c)[0]


def test_surrogate_keys_compare_by_the_version_they_reference(tmp_path):
    """Each engine hashes its own user_sk: a fact keyed to the same user version agrees, one
    keyed to another version (or to the unknown member) differs."""
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)

    def write(root, sks: dict, fact_sk: int) -> None:
        (root / "dim_users").mkdir(parents=True)
        users = [
            {"user_sk": sks[t], "user_id": 7, "valid_from": t, "is_current": t == t1}
            for t in (t0, t1)
        ]
        users.append(
            {
                "user_sk": -1,
                "user_id": -1,
                "valid_from": datetime(1970, 1, 1, tzinfo=UTC),
                "is_current": False,
            }
        )
        pq.write_table(pa.Table.from_pylist(users), root / "dim_users" / "part-0.parquet")
        (root / "fact_transactions").mkdir()
        fact = [{"transaction_id": "t1", "user_id": 7, "user_sk": fact_sk}]
        pq.write_table(pa.Table.from_pylist(fact), root / "fact_transactions" / "part-0.parquet")

    def peer_files(root):
        for name in ("dim_users", "fact_transactions"):
            (root / name / "part-0.parquet").rename(root / f"{name}.parquet")

    names = ["dim_users", "fact_transactions"]
    spark, same, other = tmp_path / "spark", tmp_path / "same", tmp_path / "other"
    write(spark, {t0: 111, t1: 222}, 222)
    write(same, {t0: 5, t1: 6}, 6)
    write(other, {t0: 5, t1: 6}, 5)
    peer_files(same)
    peer_files(other)
    assert compare_gold(spark, same, names) == []
    got = compare_gold(spark, other, names)
    assert len(got) == 1 and "fact_transactions" in got[0] and "user_sk" in got[0], got


def _quarantine(bad: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"source_file": [f for f, _ in bad], "quarantine_reason": [r for _, r in bad]})


def _silver(folder, name: str, rows: list[dict], bad: list[tuple[str, str]]) -> None:
    """A SILVER table and its quarantine, as Spark's folders of Parquet files."""
    for target, table in (
        (name, pa.Table.from_pylist(rows)),
        (f"{name}_quarantine", _quarantine(bad)),
    ):
        (folder / target).mkdir(parents=True)
        pq.write_table(table, folder / target / "part-0.parquet")


def _peer_silver(folder, name: str, rows: list[dict], bad: list[tuple[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / f"{name}.parquet")
    pq.write_table(_quarantine(bad), folder / f"{name}_quarantine.parquet")


def test_silver_rows_and_quarantine_counts_are_compared_per_file_and_reason(tmp_path):
    def event(i: int, kind: str = "view") -> dict:
        return {"event_id": f"e{i}", "event_type": kind, "source_file": f"f{i}.csv"}

    spark_rows = [{**event(i), "_batch_id": "b1"} for i in range(3)]  # bookkeeping: ignored
    bad = [("s3a://bronze/events/a.csv", "invalid_timestamp"), ("s3a://bronze/events/a.csv", "")]
    _silver(tmp_path / "spark", "events", spark_rows, bad)
    peer_bad = [("/lake/bronze/events/a.csv", "invalid_timestamp"), ("/x/a.csv", "")]
    _peer_silver(tmp_path / "peer", "events", [event(i) for i in range(3)], peer_bad)
    assert compare_silver(tmp_path / "spark", tmp_path / "peer", ["events"]) == []

    peer_rows = [event(0), event(1, "click"), {**event(2), "source_file": "other.csv"}]
    peer_bad = [*peer_bad, ("/lake/bronze/events/a.csv", "invalid_timestamp")]
    _peer_silver(tmp_path / "peer2", "events", peer_rows, peer_bad)
    got = compare_silver(tmp_path / "spark", tmp_path / "peer2", ["events"])
    assert got == [
        "silver events {'event_id': 'e1'}.event_type: spark 'view', peer 'click'",
        "quarantine events a.csv [invalid_timestamp]: spark 1 rows, peer 2",
    ], got
