from pathlib import Path

import pytest

from lakehouse.config import ConfigError, FilesystemStore, S3Store, load_profile


def test_local_profile_points_at_loopback_services():
    profile = load_profile("local")
    assert isinstance(profile.object_store, S3Store)
    assert profile.object_store.endpoint_url.startswith("http://127.0.0.1:")
    assert profile.spark_uri("silver", "events") == "s3a://lakehouse-silver/events"
    assert profile.uri("raw", "events/a.csv") == "s3://lakehouse-raw/events/a.csv"


def test_embedded_profile_uses_the_filesystem_with_the_same_layout():
    profile = load_profile("embedded")
    assert isinstance(profile.object_store, FilesystemStore)
    assert profile.spark.master.startswith("local")
    assert profile.spark_uri("silver", "events").endswith("/lakehouse-silver/events")
    assert profile.zones == load_profile("local").zones


def test_missing_variable_names_the_file_and_key(monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ConfigError) as err:
        load_profile("aws")
    assert "aws.yaml" in str(err.value)
    assert "object_store.region" in str(err.value)
    assert "AWS_REGION" in str(err.value)


def test_wrong_type_names_the_key(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    text = (Path(__file__).parents[2] / "config/profiles/embedded.yaml").read_text()
    bad.write_text(
        text.replace("  driver_memory: 2g\n", "  driver_memory: 2g\n  executor_cores: many\n")
    )
    with pytest.raises(ConfigError) as err:
        load_profile("embedded", path=bad)
    assert "spark.local.executor_cores" in str(err.value) or "executor_cores" in str(err.value)
    assert str(bad) in str(err.value)


def test_unknown_key_is_rejected(tmp_path: Path):
    bad = tmp_path / "typo.yaml"
    text = (Path(__file__).parents[2] / "config/profiles/embedded.yaml").read_text()
    bad.write_text(text.replace("  raw: lakehouse-raw", "  raw: lakehouse-raw\n  bronz: x"))
    with pytest.raises(ConfigError, match="zones.bronz"):
        load_profile("embedded", path=bad)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known: .*'local'"):
        load_profile("nope")
