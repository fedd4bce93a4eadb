"""A record of every failure alert, kept next to the run's report in the metrics zone
(`runs/<run key>/alerts/<task>[.<map index>].try-<n>.json`), so the run report can list the
alerts its run raised, where they went and the failed try's log.

The transports (SMTP, webhook, SNS) are the providers' notifiers; none of them leaves a trace
the report could read back, hence this notifier. It runs first in the task's failure callbacks,
so the record is written before a slow mail server can hold the others up, and it never raises:
a record that cannot be written is logged, and the alerts themselves still go out.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


class AlertRecord(BaseNotifier):
    """Writes the failed try's facts and the channels its alert went to (`channels`: what the
    profile and config/pipelines.yaml configure, e.g. {"kind": "email", "to": [...]})."""

    def __init__(self, channels: list[dict[str, Any]]):
        super().__init__()
        self.channels = channels

    def notify(self, context) -> None:
        try:
            self._write(context)
        except Exception:  # the record is a convenience: the alerts themselves must still go
            log.exception("the alert record of this failure could not be written")

    def _write(self, context) -> None:
        from lakehouse.backends.storage import object_store
        from lakehouse.config import load_profile
        from lakehouse.report.run_summary import alert_key

        ti = context["ti"]
        run_id = context["run_id"]
        error = context.get("exception")
        record = {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "run_id": run_id,
            "try_number": ti.try_number,
            "log_url": ti.log_url,
            "exception": f"{type(error).__name__}: {error}" if error else None,
            "channels": self.channels,
            "at": time.time(),
        }
        profile = load_profile()
        key = alert_key(run_id, ti.task_id, ti.map_index, ti.try_number)
        object_store(profile).put(profile.zones.metrics, key, json.dumps(record).encode())
        log.info("alert recorded at %s", profile.uri("metrics", key))
