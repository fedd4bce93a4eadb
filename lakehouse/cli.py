"""`lakehouse`: one entry point for the stack, the data and the pipeline (Typer).

Every command works on one profile: `--profile` (before the command), else LAKEHOUSE_PROFILE,
else `local`. Errors are one line saying what went wrong and what to do next;
LAKEHOUSE_DEBUG=1 shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.config import ConfigError, load_profile

app = typer.Typer(
    name="lakehouse",
    help="A local-first AWS lakehouse: native services, sample data, pipeline runs, run "
    "reports, warehouse and AWS deploys.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
warehouse_app = typer.Typer(
    help="Warehouse DDL, bootstrap, loads and validation.", no_args_is_help=True
)
app.add_typer(warehouse_app, name="warehouse")
silver_app = typer.Typer(help="Operator actions on SILVER batches.", no_args_is_help=True)
app.add_typer(silver_app, name="silver")


class State:
    profile_name: str | None = None


STATE = State()


def _profile():
    return load_profile(STATE.profile_name)


def _echo(text: str = "") -> None:
    typer.echo(text)


@app.callback()
def _main(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            envvar="LAKEHOUSE_PROFILE",
            help="local | embedded | compose | aws (default: local)",
        ),
    ] = None,
) -> None:
    STATE.profile_name = profile


class ServiceAction(StrEnum):
    start = "start"
    stop = "stop"
    status = "status"
    restart = "restart"


@app.command()
def services(
    action: Annotated[ServiceAction, typer.Argument(help="what to do")],
    names: Annotated[list[str] | None, typer.Argument(help="services (default: all)")] = None,
) -> None:
    """Start, stop, restart or check the profile's native services (loopback only)."""
    from lakehouse.platform.services import Stack

    stack = Stack(_profile())
    if action.value in ("stop", "restart"):
        stack.stop(names or [])
    if action.value in ("start", "restart"):
        stack.start(names or [])
    if action.value == "status":
        raise typer.Exit(0 if _show_health(stack) else 1)


def _show_health(stack) -> bool:
    """Print every service's health; True when all are healthy."""
    health = stack.status()
    for name, state in health.items():
        _echo(f"{name:24} {state}")
    return all(s.startswith("healthy") for s in health.values())


@app.command()
def status() -> None:
    """Health of every service, and the master DAG's latest runs when Airflow is up."""
    from lakehouse.platform import pipeline
    from lakehouse.platform.services import Stack

    profile = _profile()
    if _show_health(Stack(profile)):
        for run in pipeline.latest_runs(profile, limit=5):
            _echo(f"run {run['run_id']:48} {run['state']}")
        raise typer.Exit(0)
    _echo("some services are down: `make up` (or `lakehouse services start`)")
    raise typer.Exit(1)


@app.command("validate-config")
def validate_config() -> None:
    """Check the profile, datasets, pipelines and warehouse definitions (no Airflow needed)."""
    from lakehouse.config.pipelines import load_pipelines
    from lakehouse.config.registry import load_registry
    from lakehouse.warehouse.sql import table_defs

    problems = []
    checks = [
        ("profile", _profile),
        ("registry", load_registry),
        ("pipelines", load_pipelines),
        ("warehouse tables", table_defs),
    ]
    for what, load in checks:
        try:
            load()
            _echo(f"ok    {what}")
        except ConfigError as exc:
            problems.append(str(exc))
            _echo(f"ERROR {what}: {exc}")
    if problems:
        _echo("fix the file and key named above (keys: docs/configuration.md)")
        raise typer.Exit(2)


@app.command()
def jars() -> None:
    """Fetch the Spark jars of the pinned runtime with Maven into .stack/jars."""
    from lakehouse.config.versions import fetch_jars

    for path in fetch_jars():
        _echo(str(path))


@app.command()
def seed(
    out: Annotated[Path, typer.Option(help="output folder")],
    scale: Annotated[float, typer.Option(help="1 = about 1 million events")] = 0.01,
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
    batches: Annotated[int, typer.Option(help="landing batches")] = 3,
    start: Annotated[
        str | None, typer.Option(help="the first batch's day, YYYY-MM-DD (default 2026-10-31)")
    ] = None,
) -> None:
    """Generate the reference dataset (messy on purpose) with its ground-truth manifest."""
    from datetime import date

    from rich.console import Console

    from seed_data.generate import START, generate

    try:
        first = date.fromisoformat(start) if start else START
    except ValueError:
        raise typer.BadParameter(
            f"{start!r} is not a day (YYYY-MM-DD)", param_hint="--start"
        ) from None
    with Console(stderr=True).status(f"generating scale {scale:g} into {out} ..."):
        manifest = generate(out, scale, seed, batches, start=first)
    rows = {k: v["rows_in"] for k, v in manifest["datasets"].items()}
    _echo(f"wrote {out}: rows {rows}; manifest {out / 'manifest.json'}")


@app.command("drop-sample")
def drop_sample(
    batch: Annotated[int, typer.Option(min=1, max=3, help="sample batch 1-3")] = 1,
) -> None:
    """Put one batch of the committed sample into RAW and the operational DB."""
    from lakehouse.platform.pipeline import SAMPLE, drop_reference_batch
    from seed_data.operational import load_batch

    profile = _profile()
    keys = drop_reference_batch(profile, SAMPLE, batch)
    _echo(f"dropped {len(keys)} files of sample batch {batch} into {profile.uri('raw')}")
    if profile.source_db is not None:
        counts = load_batch(profile.source_db.dsn(), SAMPLE / f"batch-{batch:02d}")
        _echo(f"operational source upserts: {counts}")


@app.command()
def drop(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="local folder")],
    dataset: Annotated[str, typer.Option(help="registry dataset")] = "events",
) -> None:
    """Upload a folder of files into RAW/<dataset>/."""
    from lakehouse.platform.pipeline import drop_files

    for key in drop_files(_profile(), folder, dataset):
        _echo(f"raw/{key}")


def _follow(profile, run_id: str, timeout: float) -> None:
    """Wait for a run with a live line of task states on stderr."""
    from rich.console import Console

    from lakehouse.platform import pipeline

    console = Console(stderr=True)
    started = time.monotonic()
    with console.status("waiting for the run ...") as status:

        def show(states: dict) -> None:
            done = sum(s in ("success", "skipped") for s in states.values())
            running = [t for t, s in states.items() if s == "running"]
            status.update(
                f"[{time.monotonic() - started:4.0f}s] {done}/{len(states)} tasks "
                f"done; running: {', '.join(running) or '-'}"
            )

        pipeline.wait_for_run(profile, run_id, timeout=timeout, on_poll=show)


@app.command()
def run(
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 1200,
) -> None:
    """Trigger the master DAG on the running stack and follow it to the end."""
    from lakehouse.platform import pipeline

    profile = _profile()
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    _echo(f"triggered {run_id}")
    _follow(profile, run_id, timeout)
    _echo(json.dumps(pipeline.summary(profile), indent=2))
    _echo(f"report: `lakehouse report --run '{run_id}' --open`")


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the run")] = 1200,
) -> None:
    """Start the services, run the committed sample through every layer, show the result."""
    from lakehouse.config.versions import fetch_jars
    from lakehouse.platform import pipeline
    from lakehouse.platform import services as svc

    profile = _profile()
    started = time.monotonic()
    fetch_jars()
    # One triggered run: no hourly run may start beside it (config/pipelines.yaml).
    os.environ.setdefault("LAKEHOUSE_MASTER_SCHEDULE", "none")
    svc.Stack(profile).start()
    manifest = pipeline.prepare_sample_run(profile)
    _echo(f"dropped the reference sample into {profile.uri('raw')}, loaded the operational DB")
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    _echo(f"triggered master DAG run {run_id}")
    _follow(profile, run_id, timeout)
    result = pipeline.summary(profile)
    api = f"http://127.0.0.1:{profile.airflow.api_port}"
    _echo(f"\nDone in {time.monotonic() - started:.0f}s (profile {profile.name}).")
    _echo(f"  RAW        left: {sum(result['raw'].values())} files")
    _echo(f"  BRONZE     files {result['bronze_files']}  {profile.uri('bronze')}")
    _echo(f"             tables from the operational DB: {result['bronze_tables']}")
    _echo(f"  QUARANTINE files {result['quarantined_files']}  {profile.uri('quarantine')}")
    _echo(
        f"  SILVER     Delta tables        {profile.uri('silver')} (events, transactions, "
        "users with SCD2 history, shipment_tracking)"
    )
    from lakehouse.report import summary_of

    run = summary_of(profile, run_id)
    gold, loaded = run["rows"].get("gold", {}), run["warehouse"].get("tables", {})
    schema = result["warehouse"]["table"].split(".")[0]
    _echo(
        f"  GOLD -> WAREHOUSE  {len(gold)} Delta tables in {profile.uri('gold')}, "
        f"loaded into {schema} (rows in GOLD -> rows in the warehouse):"
    )
    for table in sorted(gold):
        rows = loaded.get(table, {}).get("rows", "not loaded")
        _echo(f"    {table:<24} {gold[table]:>7} -> {rows}")
    wh = result["warehouse"]
    _echo(
        f"  WAREHOUSE  {wh['table']}: {wh['rows']} rows, {wh['events']} events "
        f"(expected {manifest['datasets']['events']['silver_rows']} events)"
    )
    login = f"{profile.airflow.admin_user} / $LAKEHOUSE_AIRFLOW_ADMIN_PASSWORD"
    _echo(f"  Airflow UI {api}  login {login}  (stop everything: make down PROFILE={profile.name})")
    _echo(f"  Run report `lakehouse --profile {profile.name} report --open`")


@app.command()
def alerts(
    maildir: Annotated[
        Path | None,
        typer.Option(help="a mail sink's Maildir: list the alerts it holds"),
    ] = None,
    send_test: Annotated[
        bool, typer.Option("--send-test", help="send a test alert through the mail server")
    ] = False,
) -> None:
    """Check the alert channel: send a test alert through the profile's mail server
    (`--send-test`), or list what a Maildir sink received (`--maildir`, e.g. the Compose stack's
    `mail` service: `make alerts`)."""
    from lakehouse.config.pipelines import load_pipelines
    from lakehouse.orchestration import alerts as alerting

    if not (send_test or maildir):
        _echo("nothing to do: give --send-test and/or --maildir DIR")
        raise typer.Exit(2)
    if send_test:
        subject = alerting.send_test(_profile(), load_pipelines())
        _echo(f"sent: {subject}")
    if maildir:
        messages = alerting.read_maildir(maildir)
        for m in messages:
            _echo(f"{m['date']}  {m['to']}  {m['subject']}")
        _echo(f"{len(messages)} message(s) in {maildir}")


@app.command()
def report(
    run_id: Annotated[str | None, typer.Option("--run", help="run id (default: latest)")] = None,
    out: Annotated[Path | None, typer.Option(help="file to write")] = None,
    open_it: Annotated[bool, typer.Option("--open", help="open in the browser")] = False,
) -> None:
    """Fetch a run's HTML report (default: the latest run's) into .stack/<profile>/reports."""
    from lakehouse import report as rep
    from lakehouse.backends.storage import MissingObject
    from lakehouse.platform.airflow_env import profile_state_dir

    profile = _profile()
    try:
        key, body = rep.fetch(profile, run_id)
    except MissingObject as exc:
        _echo(f"no run report yet ({exc}): run the master DAG first (`lakehouse run`)")
        raise typer.Exit(1) from None
    out = out or profile_state_dir(profile) / "reports" / f"{key}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    _echo(str(out))
    if open_it:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())


class Dialect(StrEnum):
    postgres = "postgres"
    redshift = "redshift"


TablesArg = Annotated[list[str] | None, typer.Argument(help="tables (default: all)")]


@warehouse_app.command("ddl")
def warehouse_ddl(
    tables: TablesArg = None,
    dialect: Annotated[Dialect, typer.Option(help="SQL dialect")] = Dialect.postgres,
    schema: Annotated[str, typer.Option(help="schema name")] = "analytics",
) -> None:
    """Print the DDL of one or all tables (no profile needed)."""
    from lakehouse.warehouse import sql as warehouse_sql

    defs = warehouse_sql.table_defs()
    unknown = sorted(set(tables or []) - set(defs))
    if unknown:
        raise ConfigError(
            f"unknown tables {unknown}; defined in warehouse_sql/tables/: {sorted(defs)}"
        )
    for name in tables or sorted(defs):
        for statement in warehouse_sql.ddl(defs[name], schema, dialect.value):
            _echo(statement + ";\n")


@warehouse_app.command("bootstrap")
def warehouse_bootstrap() -> None:
    """Create or update the schema, the loader and analyst roles and their grants."""
    from lakehouse import warehouse

    for statement in warehouse.bootstrap(_profile()):
        _echo(statement)


@warehouse_app.command("load")
def warehouse_load(tables: TablesArg = None) -> None:
    """Stage GOLD's exports, validate them, swap them in (one transaction)."""
    from lakehouse import warehouse

    _echo(json.dumps(warehouse.load(_profile(), tables or None).as_dict(), indent=2))


@warehouse_app.command("validate")
def warehouse_validate(tables: TablesArg = None) -> None:
    """Compare the live tables' figures with GOLD's."""
    from lakehouse import warehouse

    _echo(json.dumps(warehouse.validate(_profile(), tables or None), indent=2))


@silver_app.command("release")
def silver_release(
    dataset: Annotated[str, typer.Option(help="the dataset whose batch failed")],
    file: Annotated[
        list[str], typer.Option("--file", help="a bronze key the failed run named (repeatable)")
    ],
    note: Annotated[str, typer.Option(help="why (kept with the quarantined rows)")] = "",
    by: Annotated[str | None, typer.Option(help="who (default: your login name)")] = None,
) -> None:
    """Quarantine a bronze file's rows whole at the next SILVER run, so the batch goes on."""
    from lakehouse.ingest.release import release

    for record in release(_profile(), dataset, file, note=note, by=by):
        _echo(
            f"released {record['bronze_key']} ({dataset}) by {record['released_by']} at "
            f"{record['released_at']}"
        )
    _echo(
        "the next SILVER run quarantines its rows (reason released_by_operator) and goes on: "
        "lakehouse run"
    )


@app.command()
def deploy(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the calls only")] = False,
) -> None:
    """Deploy buckets, artifacts, Glue jobs and the warehouse DDL to AWS (aws profile)."""
    from lakehouse.platform.deploy import deploy as run_deploy

    profile = _profile()
    calls = run_deploy(profile, dry_run=dry_run)
    verb = "would call" if dry_run else "called"
    for call in calls:
        _echo(f"{verb}: {call.describe()}")
    _echo(
        f"{len(calls)} change(s){' (dry run: nothing changed)' if dry_run else ''}; "
        f"profile {profile.name}"
    )


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def airflow(ctx: typer.Context) -> None:
    """The Airflow CLI with this profile's environment (e.g. `lakehouse airflow dags list`)."""
    import subprocess

    from lakehouse.platform.airflow_env import airflow_environment
    from lakehouse.platform.services import _airflow_bin

    env = airflow_environment(_profile())
    raise typer.Exit(subprocess.call([_airflow_bin(), *ctx.args], env=env))


def main(argv: list[str] | None = None) -> int:
    """The console script; returns the exit code (tests call it with an argument list)."""
    try:
        result = app(args=argv, prog_name="lakehouse", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.TyperException as exc:  # usage errors: a bad option, a missing argument
        exc.show()
        return getattr(exc, "exit_code", 2)
    except ConfigError as exc:
        typer.echo(f"config error: {exc}\n(keys and types: docs/configuration.md)", err=True)
        return 2
    except Exception as exc:  # the message is the useful part; the traceback is noise here
        if os.environ.get("LAKEHOUSE_DEBUG"):
            raise
        typer.echo(
            f"error: {exc}\n(LAKEHOUSE_DEBUG=1 shows the traceback; service logs: "
            "`lakehouse status`, .stack/<profile>/logs/)",
            err=True,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
