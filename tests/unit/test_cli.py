"""The `lakehouse` CLI: help that lists every command, exit codes and errors that say what to do
next (a config error names the file and key)."""

from __future__ import annotations

import pytest

from lakehouse.cli import main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in (
        "seed",
        "run",
        "status",
        "report",
        "deploy",
        "validate-config",
        "services",
        "drop-sample",
        "warehouse",
        "airflow",
    ):
        assert f" {command} " in out, command


def test_validate_config_passes_on_the_shipped_files(capsys):
    assert main(["--profile", "local", "validate-config"]) == 0
    assert capsys.readouterr().out.count("ok ") == 4


def test_a_broken_file_is_named_with_its_key(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "pipelines.yaml"
    bad.write_text(
        "defaults: {owner: x, retries: 99}\nmaster: {tags: [m], deadline_minutes: 5}"
        "\ningestion: {tags: [i]}\n"
    )
    monkeypatch.setenv("LAKEHOUSE_PIPELINES_FILE", str(bad))
    assert main(["--profile", "local", "validate-config"]) == 2
    out = capsys.readouterr().out
    assert f"ERROR pipelines: {bad}" in out and "defaults.retries" in out
    assert "docs/configuration.md" in out


def test_an_unknown_profile_is_a_config_error_listing_the_known_ones(capsys):
    assert main(["--profile", "nope", "status"]) == 2
    err = capsys.readouterr().err
    assert "no such profile" in err and "'local'" in err


@pytest.mark.parametrize(
    ("dialect", "marker"), [("redshift", "DISTSTYLE"), ("postgres", "PRIMARY KEY")]
)
def test_warehouse_ddl_prints_the_dialect(capsys, dialect, marker):
    assert main(["warehouse", "ddl", "daily_revenue", "--dialect", dialect]) == 0
    out = capsys.readouterr().out
    assert 'CREATE TABLE "analytics"."daily_revenue"' in out and marker in out


def test_a_usage_error_exits_2_with_the_reason(capsys):
    assert main(["warehouse", "ddl", "--dialect", "oracle"]) == 2
    assert "oracle" in capsys.readouterr().err
