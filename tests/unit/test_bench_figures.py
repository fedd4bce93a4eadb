"""The benchmark's arithmetic: scheduling gaps from task spans, and median/min/max."""

from __future__ import annotations

import pytest

from benchmarks.suite import _busy_seconds
from benchmarks.warehouse_load import spread


@pytest.mark.parametrize(
    ("spans", "busy"),
    [
        ([], 0.0),
        ([(0.0, 10.0)], 10.0),
        ([(0.0, 10.0), (5.0, 12.0)], 12.0),  # overlapping branches count once
        ([(20.0, 30.0), (0.0, 10.0)], 20.0),  # a gap of 10 s is not busy; order does not matter
        ([(0.0, 30.0), (5.0, 10.0), (40.0, 41.0)], 31.0),  # nested span
    ],
)
def test_busy_time_is_the_union_of_task_spans(spans, busy):
    assert _busy_seconds(spans) == pytest.approx(busy)


def test_spread_is_median_min_max():
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
