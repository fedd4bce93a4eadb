"""docs/configuration.md is what the config models generate (regenerate with `make docs`)."""

from pathlib import Path

from lakehouse.config import reference as config_docs

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_matches_the_models():
    assert DOC.read_text() == config_docs.render(), "stale: run `make docs`"


def test_every_key_of_every_model_is_documented():
    text = config_docs.render()
    keys = [
        "endpoint_url",
        "admin_password",
        "max_error_rate",
        "watermark",
        "retry_delay_seconds",
        "deadline_minutes",
        "sensor_schedule_minutes",
    ]
    for key in (f"`{k}`" for k in keys):
        assert key in text, key
    assert "| `retries` | int | `3` | ≥ 0, ≤ 20 |" in text
