from pathlib import Path

import pytest

from lakehouse.config import ConfigError
from lakehouse.config.registry import REGISTRY_FILE, load_registry


def test_registry_declares_every_file_dataset_with_silver_rules():
    reg = load_registry()
    assert set(reg.file_datasets) == {"events", "transactions", "users", "shipment_tracking"}
    assert reg.file_datasets["users"].silver.scd2_tracked
    assert reg.source_tables["products"].mode == "incremental"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            "    mode: incremental\n    watermark: updated_at\n    key: [product_id]\n",
            "    mode: incremental\n    key: [product_id]\n",
            "source_tables.products",
        ),
        ("order_by: event_ts", "order_by: event_time", "file_datasets.events.silver"),
        (
            "event_id: {type: string, required: true}",
            "event_id: {type: text}",
            "file_datasets.events.silver.columns.event_id.type",
        ),
        (
            "    sensor_schedule_minutes: 5\n    silver:\n      key: [event_id]",
            "    sensor_schedule_minutes: 0\n    silver:\n      key: [event_id]",
            "file_datasets.events.sensor_schedule_minutes",
        ),
    ],
)
def test_bad_registry_names_the_file_and_key(tmp_path: Path, old, new, key):
    text = REGISTRY_FILE.read_text()
    assert old in text
    bad = tmp_path / "datasets.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_registry(bad)
    assert str(bad) in str(err.value) and key in str(err.value)
