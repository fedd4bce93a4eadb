"""The run report: one self-contained HTML file per master run, written next to its summary
(`metrics/runs/<run key>/report.html`) by the run_summary task and fetched by
`lakehouse report`.

It shows where the rows went (RAW -> BRONZE -> SILVER -> GOLD -> WAREHOUSE per dataset), what was
quarantined and why, every data-quality check, how long each stage took and the key marts
(daily net revenue, daily active users). Charts are drawn by matplotlib into inline SVG: the
file needs no script, no network and no other file to be read.
"""

from __future__ import annotations

import html
import io
import json
import logging
from typing import Any

from lakehouse.backends.storage import MissingObject, object_store
from lakehouse.config import Profile
from lakehouse.report.run_summary import run_key

log = logging.getLogger(__name__)
# The marts the report shows, and the columns it reads of each (None: all; the per-user mart is
# read by the two columns its retention table needs).
MARTS: dict[str, list[str] | None] = {
    "daily_revenue": None,
    "daily_active_users": None,
    "customer_360": ["first_order_month", "retained"],
    "delivery_performance": ["carrier", "delivered", "returned", "return_rate"],
}
SOURCE_COLUMN = "source_file"  # spark_jobs.silver.transforms.SOURCE (no Spark import here)
HIDDEN_SAMPLE_COLUMNS = {SOURCE_COLUMN, "_batch_id", "quarantine_detail"}
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border:1px solid #dde;
text-align:right}th{background:#f3f5fa}td:first-child,th:first-child{text-align:left}
.ok{color:#1a7f37}.warn{color:#9a6700}.bad{color:#c62828;font-weight:600}.flow td{text-align:center}
.chart{margin:.5rem 0}.samples td{text-align:left;max-width:700px;overflow-wrap:anywhere}
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return f'<div class="chart">{text[text.index("<svg") :]}</div>'


def _figure(width: float = 8, height: float = 3):
    import matplotlib

    matplotlib.use("Agg")  # no display; the figure only becomes SVG text
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text (searchable, small)
    matplotlib.rcParams["svg.hashsalt"] = "lakehouse"  # the same run renders the same file
    return plt.subplots(figsize=(width, height))


def _table(header: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


def row_flow(summary: dict) -> list[dict]:
    """Per dataset: RAW files this run's raw_to_bronze took, the files new in BRONZE since the
    previous run whoever ingested them (the pending files SILVER read: a sensor-led
    `ingest_<dataset>` DAG may have landed them before the run), files quarantined, SILVER rows
    read, inserted and quarantined. An operational table has rows written into BRONZE by
    db_to_bronze (`bronze_table_rows`) instead of files, and SILVER reads its new writes."""
    ingestion = {i["dataset"]: i for i in summary.get("ingestion", [])}
    silver = summary.get("rows", {}).get("silver", {})
    tables = summary.get("rows", {}).get("bronze_tables", {})
    out = []
    for name in sorted(set(ingestion) | set(silver) | set(tables)):
        files, rows = ingestion.get(name, {}), silver.get(name, {})
        quarantined = rows.get("rows_quarantined") or {}
        out.append(
            {
                "dataset": name,
                "raw_files": files.get("files_in"),
                "bronze_files": files.get("files_bronze"),
                "bronze_new": rows.get("files", files.get("files_bronze")),
                "quarantined_files": files.get("files_quarantine"),
                "silver_read": rows.get("rows_read"),
                "silver_files": rows.get("files"),
                # SCD2 datasets (users) count new versions rather than merged rows.
                "silver_rows": rows.get("rows_inserted", rows.get("scd2_new_versions")),
                "quarantined_rows": sum(quarantined.values()),
                "reasons": quarantined,
                "bronze_table_rows": tables.get(name) if name in tables else None,
            }
        )
    return out


def _from_files(files: int | None, what: str = "BRONZE files") -> str:
    return "" if files is None else f" from {_esc(files)} {what}"


def _flow_row(f: dict) -> list[str]:
    arrow = "&rarr;"
    table = f["bronze_table_rows"] is not None
    read_from = _from_files(f["silver_files"], "db_to_bronze writes" if table else "BRONZE files")
    silver = [
        arrow,
        f"{_esc(f['silver_read'])} rows read{read_from}<br><small>"
        f"{_esc(f['quarantined_rows'])} rows quarantined</small>",
        arrow,
        f"{_esc(f['silver_rows'])} rows merged",
    ]
    if table:
        name = f"<b>{_esc(f['dataset'])}</b> (operational DB)"
        return [name, "", "", f"{_esc(f['bronze_table_rows'])} rows", *silver]
    return [
        f"<b>{_esc(f['dataset'])}</b>",
        f"{_esc(f['raw_files'])} files",
        arrow,
        f"{_esc(f['bronze_new'])} new files<br><small>{_esc(f['bronze_files'])} from this "
        f"run's RAW, {_esc(f['quarantined_files'])} quarantined</small>",
        *silver,
    ]


def _flow_section(summary: dict) -> str:
    rows = [_flow_row(f) for f in row_flow(summary)]
    gold = summary.get("rows", {}).get("gold", {})
    loaded = summary.get("warehouse", {}).get("tables", {})
    gold_rows = [
        [
            _esc(t),
            _esc(n),
            _esc(loaded.get(t, {}).get("rows", "not loaded")),
            _reconciled(loaded.get(t, {}).get("figures")),
        ]
        for t, n in sorted(gold.items())
    ]
    return (
        "<h2>Row flow</h2>"
        + _table(["dataset", "RAW", "", "BRONZE", "", "SILVER (read)", "", "SILVER"], rows, "flow")
        + "<p><small>RAW counts the files this run's raw_to_bronze took; BRONZE's new files are "
        "every file that reached BRONZE since the previous run, including those the sensor-led "
        "<code>ingest_&lt;dataset&gt;</code> DAGs ingested before it.</small></p>"
        + "<h3>GOLD &rarr; WAREHOUSE</h3>"
        + _table(
            ["gold table", "GOLD rows", "WAREHOUSE rows", "equal in GOLD and the warehouse"],
            gold_rows,
        )
        + "<p><small>The load compares each staged table with GOLD's export on these figures "
        "before it swaps anything in; a table that differs stops the load.</small></p>"
    )


def _reconciled(figures: dict | None) -> str:
    """The figures the load found equal in GOLD and the staged table (rows, sums, distinct
    keys, unknown members)."""
    if not figures:
        return "not reconciled"
    return "<br>".join(
        f"{_esc(name.replace(':', ' '))} = {_esc(value)}" for name, value in figures.items()
    )


def _quarantine_section(summary: dict) -> str:
    counts = [
        (f["dataset"], reason, n)
        for f in row_flow(summary)
        for reason, n in sorted(f["reasons"].items())
    ]
    files = [(i["dataset"], i.get("files_quarantine", 0)) for i in summary.get("ingestion", [])]
    out = "<h2>Quarantine</h2>"
    if not counts and not any(n for _, n in files):
        return out + "<p>Nothing was quarantined in this run.</p>"
    if counts:
        fig, ax = _figure(8, 0.35 * len(counts) + 1)
        labels = [f"{d}: {r}" for d, r, _ in counts]
        ax.barh(labels, [n for *_, n in counts], color="#c62828")
        ax.invert_yaxis()
        ax.set_xlabel("rows quarantined")
        out += _svg(fig)
    out += _table(["dataset", "reason", "rows"], [[_esc(d), _esc(r), n] for d, r, n in counts])
    out += _table(["dataset", "files quarantined at ingestion"], [[_esc(d), n] for d, n in files])
    out += _whole_files(summary)
    out += _samples(summary)
    return out + (
        "<p>Quarantined rows keep their source file and reason in the quarantine zone "
        "(<code>rows/&lt;dataset&gt;</code>); quarantined files have a "
        "<code>.reason.json</code> next to them.</p>"
    )


def _whole_files(summary: dict) -> str:
    """Files SILVER quarantined whole: released by an operator, or over max_file_error_rate."""
    lines = [
        [
            _esc(name),
            f"<code>{_esc(f['bronze_key'])}</code>",
            _esc(f["rows"]),
            _esc(f["reason"]),
            _esc(f["detail"]),
        ]
        for name, rows in sorted(summary.get("rows", {}).get("silver", {}).items())
        for f in rows.get("quarantined_whole") or []
    ]
    if not lines:
        return ""
    return "<h3>Files quarantined whole at SILVER</h3>" + _table(
        ["dataset", "bronze file", "rows", "reason", "who, when, why"], lines
    )


def _as_arrived(row: dict) -> str:
    """column=value pairs; a missing value shows as (null), unlike the text "null" or "None"."""
    return "; ".join(
        f"{k}={'(null)' if v is None else v}"
        for k, v in row.items()
        if k not in HIDDEN_SAMPLE_COLUMNS
    )


def _samples(summary: dict) -> str:
    """A few quarantined rows per dataset and reason, as they arrived."""
    out = ""
    for name, rows in sorted(summary.get("rows", {}).get("silver", {}).items()):
        samples = rows.get("quarantine_samples") or {}
        lines = [
            [
                _esc(reason),
                f"<code>{_esc(row.get(SOURCE_COLUMN))}</code>",
                f"<code>{_esc(_as_arrived(row))}</code>",
            ]
            for reason, picked in sorted(samples.items())
            for row in picked
        ]
        if lines:
            out += f"<h3>Sample quarantined rows: {_esc(name)}</h3>" + _table(
                ["reason", "source file", "row as it arrived"], lines, "samples"
            )
    return out


def _alerts_section(summary: dict) -> str:
    """The failure alerts the run raised: which task and try, the channels they went to and a
    link to the failed try's log; nothing when no task failed."""
    alerts = summary.get("alerts") or []
    if not summary.get("failed_tasks"):
        return ""
    if not alerts:
        return (
            "<h2>Alerts</h2><p>No alert was recorded: the profile names no alert channel "
            "(its <code>alerts</code> section), or the failed tasks sent none.</p>"
        )
    rows = []
    for a in alerts:
        task = a["task_id"]
        if a.get("map_index") is not None and a["map_index"] >= 0:
            task += f" [{a['map_index']}]"
        sent = "<br>".join(
            f"{_esc(c['kind'])} to {_esc(', '.join(c.get('to') or []))}"
            for c in a.get("channels") or []
        )
        log_url = a.get("log_url") or ""
        link = (
            f'<a href="{_esc(log_url)}">log</a>' if log_url.startswith(("http:", "https:")) else ""
        )
        error = (a.get("exception") or "").splitlines()[:1]
        rows.append(
            [
                _esc(task),
                _esc(a.get("try_number")),
                sent,
                link,
                _esc(error[0][:300] if error else ""),
            ]
        )
    return (
        "<h2>Alerts</h2>"
        f"<p>{len(alerts)} alert(s) went out for this run's failures.</p>"
        + _table(["task", "try", "sent", "failed try", "error"], rows)
    )


def _checks_section(summary: dict) -> str:
    checks = summary.get("checks", {})
    rows = []
    for stage, items in sorted(checks.items()):
        for c in items:
            state = (
                '<span class="bad">FAILED</span>'
                if not c.get("passed")
                else '<span class="warn">reported</span>'
                if c.get("blocking") is False and c.get("observed")
                else '<span class="ok">passed</span>'
            )
            where = c.get("dataset", "")
            rows.append(
                [_esc(stage), _esc(where), _esc(c.get("check")), _esc(c.get("observed")), state]
            )
    if not rows:
        return "<h2>Data-quality checks</h2><p>No checks were recorded in this run.</p>"
    failed = sum(1 for items in checks.values() for c in items if not c.get("passed"))
    head = f"<p>{len(rows)} checks, <b>{failed} failed</b>.</p>"
    return (
        "<h2>Data-quality checks</h2>"
        + head
        + _table(["stage", "dataset", "check", "observed", "result"], rows)
        + _remedies(summary)
    )


def _remedies(summary: dict) -> str:
    """What to do about each failed check that says, with the worst files of its batch."""
    out = ""
    silver = summary.get("rows", {}).get("silver", {})
    for items in summary.get("checks", {}).values():
        for c in items:
            if c.get("passed") or not c.get("remedy"):
                continue
            where = c.get("dataset", "")
            out += (
                f"<p><b>{_esc(where)} {_esc(c['check'])}: what to do</b>: {_esc(c['remedy'])}</p>"
            )
            worst = silver.get(where, {}).get("worst_files") or []
            if worst:
                out += _table(
                    ["bronze file", "rows", "quarantined", "error rate"],
                    [
                        [
                            f"<code>{_esc(w['bronze_key'])}</code>",
                            _esc(w["rows"]),
                            _esc(w["quarantined"]),
                            f"{w['error_rate']:.1%}",
                        ]
                        for w in worst
                    ],
                )
    return out


def _stages_section(summary: dict) -> str:
    """A Gantt chart of the stages' own clocks from the run's start, and every task's state."""
    spans = summary.get("timeline") or []
    out = "<h2>Stages</h2>"
    if spans:
        zero = min(summary.get("run_started_at") or spans[0]["started_at"], spans[0]["started_at"])
        bars = [(s["stage"], s["started_at"] - zero, s["duration_s"]) for s in spans]
        fig, ax = _figure(8, 0.35 * len(bars) + 1)
        for i, (_, start, length) in enumerate(bars):
            ax.broken_barh([(start, max(length, 0.01))], (i - 0.4, 0.8), color="#3367d6")
        ax.set_yticks(range(len(bars)), [name for name, *_ in bars])
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the run started")
        out += _svg(fig)
        out += _table(
            ["stage", "starts at (s)", "ends at (s)", "duration (s)"],
            [[_esc(n), f"{a:.1f}", f"{a + d:.1f}", f"{d:.1f}"] for n, a, d in bars],
        )
        out += (
            "<p>Bars are the work each stage timed itself; the gaps between them are "
            "Airflow scheduling and Spark start-up.</p>"
        )
    elif summary.get("stage_seconds"):  # summaries written before stages recorded their start
        seconds = summary["stage_seconds"].items()
        out += _table(["stage", "seconds"], [[_esc(k), _esc(v)] for k, v in seconds])
    states = summary.get("task_states", {})
    out += _table(["task", "state"], [[_esc(t), _esc(s)] for t, s in sorted(states.items())])
    return out


def _marts_section(marts: dict[str, Any]) -> str:
    out = "<h2>Marts</h2>"
    revenue = marts.get("daily_revenue")
    if revenue is not None and revenue.num_rows:
        per_day: dict = {}
        for day, net in zip(
            revenue.column("revenue_date").to_pylist(),
            revenue.column("net_usd").to_pylist(),
            strict=True,
        ):
            per_day[day] = per_day.get(day, 0) + float(net or 0)
        days = sorted(per_day)
        fig, ax = _figure()
        ax.plot(days, [per_day[d] for d in days], color="#1a7f37", marker=".")
        ax.set_title("Daily net revenue (USD)")
        fig.autofmt_xdate()
        out += _svg(fig)
    dau = marts.get("daily_active_users")
    if dau is not None and dau.num_rows:
        pairs = sorted(
            zip(
                dau.column("activity_date").to_pylist(),
                dau.column("active_users").to_pylist(),
                strict=True,
            )
        )
        fig, ax = _figure()
        ax.plot([d for d, _ in pairs], [n for _, n in pairs], color="#3367d6", marker=".")
        ax.set_title("Daily active users")
        fig.autofmt_xdate()
        out += _svg(fig)
    out += _retention_table(marts.get("customer_360"))
    out += _returns_table(marts.get("delivery_performance"))
    if out == "<h2>Marts</h2>":
        out += "<p>No gold export found for the marts (GOLD did not publish in this run).</p>"
    return out


def _retention_table(customers) -> str:
    """Buyers per cohort (month of the first order) and whether they were active in the month
    after: retained, lapsed, not observed yet (that month has not begun), and the rate."""
    if customers is None or not customers.num_rows:
        return ""
    cohorts: dict[str, list[int]] = {}
    for month, retained in zip(
        customers.column("first_order_month").to_pylist(),
        customers.column("retained").to_pylist(),
        strict=True,
    ):
        if month is not None:
            counts = cohorts.setdefault(month, [0, 0, 0])
            counts[0 if retained else 1 if retained is False else 2] += 1
    rows = []
    for month, (kept, lapsed, unseen) in sorted(cohorts.items()):
        rate = f"{kept / (kept + lapsed):.1%}" if kept + lapsed else "not observed yet"
        rows.append([_esc(month), kept + lapsed + unseen, kept, lapsed, unseen, rate])
    if not rows:
        return ""
    return "<h3>Retention by cohort (customer_360)</h3>" + _table(
        ["first order month", "buyers", "retained", "lapsed", "not observed yet", "rate"], rows
    )


def _returns_table(carriers) -> str:
    if carriers is None or not carriers.num_rows:
        return ""
    rows = [
        [_esc(r["carrier"]), r["delivered"], r["returned"], _percent(r["return_rate"])]
        for r in sorted(carriers.to_pylist(), key=lambda r: r["carrier"])
    ]
    return "<h3>Returns per carrier (delivery_performance)</h3>" + _table(
        ["carrier", "delivered", "returned", "return rate"], rows
    )


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _trigger_line(trigger: dict) -> str:
    """What started the run: a person, the schedule, or landings in BRONZE (with how long the
    burst took to settle, or why the run was skipped)."""
    if not trigger:
        return ""
    kind = trigger.get("run_type", "")
    text = {"manual": "a manual trigger", "scheduled": "the schedule"}.get(kind, kind)
    landings = trigger.get("landings") or {}
    if landings:
        text = "landings in BRONZE: " + ", ".join(
            f"{_esc(a)} &times;{n}" for a, n in landings.items()
        )
        text += f"; settled after {trigger.get('settled_s', 0):g} s"
    elif kind == "asset_triggered":
        text = "landings in BRONZE"
    if trigger.get("skipped"):
        text += f" &mdash; skipped: {_esc(trigger['skipped'])}"
    return f"<p>Started by {text}.</p>"


def render(summary: dict, marts: dict[str, Any]) -> str:
    """The report as one HTML document (inline CSS and SVG only)."""
    failed = summary.get("failed_tasks", [])
    verdict = (
        '<p class="ok">Succeeded.</p>'
        if not failed
        else f'<p class="bad">Failed: {_esc(", ".join(failed))}</p>'
    )
    verdict = _trigger_line(summary.get("trigger") or {}) + verdict
    title = f"Run {summary.get('run_id')}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}'
        f"</title><style>{STYLE}</style></head><body><h1>lakehouse_pipeline &middot; "
        f"{_esc(title)}</h1><p>profile <b>{_esc(summary.get('profile'))}</b></p>{verdict}"
        + _alerts_section(summary)
        + _flow_section(summary)
        + _quarantine_section(summary)
        + _checks_section(summary)
        + _stages_section(summary)
        + _marts_section(marts)
        + "</body></html>"
    )


def read_marts(profile: Profile) -> dict[str, Any]:
    from lakehouse import warehouse

    out: dict[str, Any] = {}
    for name, columns in MARTS.items():
        try:
            out[name] = warehouse.read_export(profile, name, columns)
        except Exception as exc:  # not published (yet), or unreadable: the chart is left out
            log.warning("mart %s not charted: %s", name, exc)
            out[name] = None
    return out


def report_key(run_id: str) -> str:
    return f"runs/{run_key(run_id)}/report.html"


def write(profile: Profile, summary: dict) -> str:
    """Render the run's report and store it in the metrics zone; returns its URI."""
    key = report_key(summary["run_id"])
    body = render(summary, read_marts(profile)).encode()
    object_store(profile).put(profile.zones.metrics, key, body)
    return profile.uri("metrics", key)


def fetch(profile: Profile, run_id: str | None = None) -> tuple[str, bytes]:
    """(run key, report HTML) of a run, or of the latest run that has a report."""
    store = object_store(profile)
    bucket = profile.zones.metrics
    if run_id is None:
        reports = [o for o in store.list(bucket, "runs/") if o.key.endswith("/report.html")]
        if not reports:
            raise MissingObject(f"no run report under {profile.uri('metrics', 'runs/')}")
        latest = max(reports, key=lambda o: (o.last_modified is not None, o.last_modified))
        key = latest.key
    else:
        key = report_key(run_id)
    return key.split("/")[1], store.get(bucket, key)


def summary_of(profile: Profile, run_id: str) -> dict:
    key = f"runs/{run_key(run_id)}/summary.json"
    return json.loads(object_store(profile).get(profile.zones.metrics, key))
