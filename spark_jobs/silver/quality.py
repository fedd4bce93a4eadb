"""SILVER's data-quality checks: the error rate, then unique and non-null keys, accepted values
and ranges on the written table from one aggregate; and, for a batch over its error rate, the
failed check with the worst files and the command that releases them."""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.columns import count_if
from spark_jobs.silver import release as R

WORST_FILES = 10  # files named (worst error rate first) when a batch fails its error rate


def quality_checks(
    table: DataFrame, spec: dict, rows_read: int, quarantined: int
) -> tuple[list[dict], int]:
    """Centralised checks on the silver table after the write (and the error rate), and the
    table's current row count, from one aggregate."""
    key = spec["key"]
    checks: list[dict[str, Any]] = []
    rate = quarantined / rows_read if rows_read else 0.0
    checks.append(
        {
            "check": "error_rate",
            "observed": round(rate, 5),
            "limit": spec["max_error_rate"],
            "passed": rate <= spec["max_error_rate"],
        }
    )
    live = table.where("is_current") if spec.get("scd2_tracked") else table

    # Every figure in one aggregate (one Spark job): the job's time goes on per-action cost.
    figures = [
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(*key).alias("keys"),
        count_if(reduce(or_, [F.col(k).isNull() for k in key])).alias("null_keys"),
    ]
    accepted = [n for n, c in spec["columns"].items() if c["type"] in ("enum", "currency")]
    ranged = {n: c["range"] for n, c in spec["columns"].items() if c.get("range")}
    figures += [
        count_if(F.col(n).isNotNull() & ~F.col(n).isin(spec["columns"][n]["values"])).alias(
            f"accepted:{n}"
        )
        for n in accepted
    ]
    figures += [
        count_if(~F.col(n).between(low, high)).alias(f"range:{n}")
        for n, (low, high) in ranged.items()
    ]
    stats = live.agg(*figures).collect()[0].asDict()
    checks.append(
        {
            "check": "unique_key",
            "observed": stats["rows"] - stats["keys"],
            "limit": 0,
            "passed": stats["rows"] == stats["keys"],
        }
    )
    checks.append(
        {
            "check": "not_null_key",
            "observed": stats["null_keys"] or 0,
            "limit": 0,
            "passed": not stats["null_keys"],
        }
    )
    for name in spec["columns"]:
        if name in accepted:
            bad = stats[f"accepted:{name}"] or 0
            checks.append(
                {
                    "check": f"accepted_values:{name}",
                    "observed": bad,
                    "limit": 0,
                    "passed": bad == 0,
                }
            )
        if name in ranged:
            bad = stats[f"range:{name}"] or 0
            limit = spec["max_error_rate"] * max(stats["rows"], 1)
            checks.append(
                {"check": f"range:{name}", "observed": bad, "limit": limit, "passed": bad <= limit}
            )
    return checks, stats["rows"]


def over_limit(dataset: str, spec: dict, per_file: dict, whole: dict, bad: int, rows: int) -> dict:
    """The metrics of a batch over max_error_rate: the failed check, the worst files (their own
    error rates) and the command that releases them."""
    limit = spec["max_error_rate"]
    rate = bad / rows
    worst = sorted(
        (
            {
                "bronze_key": k,
                "rows": f["rows"],
                "quarantined": f["quarantined"],
                "error_rate": round(f["quarantined"] / f["rows"], 5),
            }
            for k, f in per_file.items()
            if k not in whole and f["quarantined"]
        ),
        key=lambda f: (-f["error_rate"], f["bronze_key"]),
    )[:WORST_FILES]
    # The fewest worst files whose release brings the rest under the limit: a file with a few
    # bad rows among many good ones is normal and is not proposed.
    culprits, left_bad, left_rows = [], bad, rows
    for w in worst:
        if left_rows and left_bad / left_rows <= limit:
            break
        culprits.append(w["bronze_key"])
        left_bad, left_rows = left_bad - w["quarantined"], left_rows - w["rows"]
    command = R.release_command(dataset, culprits)
    remedy = (
        f"fix the source and re-send, or quarantine the worst files whole and let the rest "
        f"through: {command} (see docs/troubleshooting.md, 'A SILVER batch over its error "
        f"rate')"
    )
    return {
        "skipped": (
            f"{bad} of {rows} rows quarantined ({rate:.1%}) is above max_error_rate "
            f"{limit:.1%} (config/datasets.yaml); nothing written"
        ),
        "worst_files": worst,
        "dq": [
            {
                "check": "error_rate",
                "observed": round(rate, 5),
                "limit": limit,
                "passed": False,
                "remedy": remedy,
            }
        ],
    }
