"""Column expressions shared by the SILVER and GOLD jobs."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def count_if(condition: Column) -> Column:
    """Rows matching `condition`, as one aggregate expression (0 when none)."""
    return F.sum(F.when(condition, 1).otherwise(0))
