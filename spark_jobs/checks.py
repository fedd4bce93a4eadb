"""The text of failed data-quality checks: one line per check, said the same way by the job's
own exception (Glue shows it) and by Airflow's failure (lakehouse.report.run_summary). Plain Python
(no pyspark), so the orchestration side imports it without Spark."""

from __future__ import annotations


def describe_failed(failed: list[dict]) -> str:
    """One line per failed check: where, what was observed against what limit, what to do."""
    return "\n".join(
        (f"{c['dataset']}: " if c.get("dataset") else "")
        + f"{c['check']} observed {c.get('observed')}"
        + (f" (limit {c['limit']})" if "limit" in c else "")
        + (f"; {c['remedy']}" if c.get("remedy") else "")
        for c in failed
    )
