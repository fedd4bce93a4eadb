"""Smoke run of `make bench` (benchmarks/suite.py) at the smallest scale, one run, one batch:
every stage reports positive figures next to its reference, and the DuckDB peer's gold
figures equal the generator's manifest. The real benchmark is not part of CI."""

from __future__ import annotations

import json

import pytest

from lakehouse.config import load_profile
from lakehouse.platform.deploy import jobs

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def bench(s3_profile, pg_profile, tmp_path_factory):
    from benchmarks import report, suite

    out = tmp_path_factory.mktemp("bench-results")
    result = suite.run_suite(0.01, 1, tmp_path_factory.mktemp("bench-work"), batches=1)
    (out / "bench-scale-0.01.json").write_text(json.dumps(result, default=str))
    report.render(out)
    return result, out


def test_every_stage_has_positive_figures_next_to_its_reference(bench):
    result, _ = bench
    stages = result["stages"]
    for stage in ("ingestion", "silver", "gold", "warehouse"):
        figures = stages[stage]
        assert figures["seconds"]["median"] > 0, (stage, figures)
        assert figures["floor_seconds"]["median"] > 0, (stage, figures)
        assert figures["ratio_to_floor"] > 0, (stage, figures)
    assert stages["ingestion"]["files_per_s"] > 0 and stages["ingestion"]["mb_per_s"] > 0
    for stage in ("silver", "gold"):
        assert stages[stage]["rows_per_s"] > 0 and stages[stage]["ratio_to_peer"] > 0, stage
    assert stages["warehouse"]["rows_per_s"] > 0
    for stage in ("ingestion", "silver_gold", "warehouse"):
        assert result["peak_rss_mb"][stage]["python"] > 0, result["peak_rss_mb"]
    assert result["peak_rss_mb"]["silver_gold"]["spark"] > 0, result["peak_rss_mb"]


def test_orchestration_is_read_from_airflow(bench, airflow_profile):
    orchestration = bench[0]["stages"]["orchestration"]
    assert "error" not in orchestration, (
        f"{orchestration.get('error')}: start Airflow with `lakehouse --profile local services "
        "start` (the figures are read from its finished master runs)"
    )
    if orchestration["master_runs"]:
        assert orchestration["e2e_s"]["median"] > 0 and orchestration["idle_s"]["median"] >= 0
        for run in orchestration["master_runs"]:
            # A successful local master run ran every Spark stage, each for some time.
            assert sorted(run["spark_tasks_s"]) == sorted(jobs(load_profile("local"))), run
            assert all(s > 0 for s in run["spark_tasks_s"].values()), run


def test_the_duckdb_peer_gives_the_manifests_gold_figures(bench):
    peer = bench[0]["peer"]
    assert peer["gold_matches_manifest"], peer["gold_mismatches"]
    for dataset in ("events", "transactions", "users", "shipment_tracking"):
        assert peer["silver_rows"][dataset] == peer["manifest_silver_rows"][dataset], dataset


def test_every_silver_and_gold_table_of_the_peer_equals_sparks_row_for_row(bench):
    """Two engines, one from the jobs and one from the documented contract, agree on every
    row of every SILVER table, on the quarantined rows per file and reason, and on every row of
    every GOLD table the peer builds (benchmarks/peer_compare.py names the table, the key and
    both values of each difference)."""
    differences = bench[0]["peer"]["differences"]
    assert not differences, "\n".join(differences)


def test_the_report_is_rendered(bench):
    _, out = bench
    assert "| 0.01 | silver |" in (out / "results.md").read_text()
    assert (out / "time_vs_scale.svg").stat().st_size > 0
