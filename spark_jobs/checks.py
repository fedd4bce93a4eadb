"""The text of failed data-quality checks: one line per check, said the same way by the job's
own exception (Glue shows it) and by Airflow's failure (lakehouse.report.run_summary). Plain Python
(no pyspark), so the orchestration side imports it without Spark."""

from __future__ import annotations

# The name of the error a job raises when its data-quality checks failed. On Glue it is the
# start of the run's ErrorMessage, which the orchestration side recognises as a failure that
# retrying the same data cannot cure (documented in docs/aws.md).
DQ_ERROR = "DataQualityFailed"


class DataQualityFailed(RuntimeError):
    """The job's data-quality checks failed; its metrics record which (written first)."""

    def __init__(self, failed: list[dict]) -> None:
        # The name leads the message itself, however the platform prints the exception.
        super().__init__(f"{DQ_ERROR}: data quality checks failed:\n" + describe_failed(failed))


def describe_failed(failed: list[dict]) -> str:
    """One line per failed check: where, what was observed against what limit, what to do."""
    return "\n".join(
        (f"{c['dataset']}: " if c.get("dataset") else "")
        + f"{c['check']} observed {c.get('observed')}"
        + (f" (limit {c['limit']})" if "limit" in c else "")
        + (f"; {c['remedy']}" if c.get("remedy") else "")
        for c in failed
    )
