"""`lakehouse`: one entry point for the services, the jars, the sample data and pipeline runs.

lakehouse services start|stop|status|restart [NAME ...]
lakehouse jars                   fetch the Spark jars of the pinned runtime with Maven
lakehouse seed thin --out DIR    write the thin sample dataset
lakehouse drop DIR [--dataset]   upload a folder of files into RAW
lakehouse run [--timeout S]      trigger the master DAG and wait for it
lakehouse demo                   the whole pipeline on the sample data, then a summary
lakehouse warehouse ddl|bootstrap|load|validate   warehouse DDL and loads (GOLD -> warehouse)
lakehouse --profile aws deploy [--dry-run]        Glue jobs, artifacts and warehouse DDL on AWS
lakehouse airflow ARGS...        the Airflow CLI with the profile's environment
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lakehouse.config import ConfigError, load_profile


def _profile(args: argparse.Namespace):
    return load_profile(args.profile)


def cmd_services(args: argparse.Namespace) -> int:
    from lakehouse import services

    argv = [args.action, *args.names]
    if args.profile:
        argv += ["--profile", args.profile]
    return services.main(argv)


def cmd_jars(_args: argparse.Namespace) -> int:
    from lakehouse.versions import fetch_jars

    for path in fetch_jars():
        print(path)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from seed_data.generate import generate

    manifest = generate(args.out, args.scale, args.seed, args.batches)
    rows = {k: v["rows_in"] for k, v in manifest["datasets"].items()}
    print(f"wrote {args.out}: rows {rows}; manifest {args.out / 'manifest.json'}")
    return 0


def cmd_drop_sample(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import SAMPLE, drop_reference_batch
    from seed_data.operational import load_batch

    profile = _profile(args)
    keys = drop_reference_batch(profile, SAMPLE, args.batch)
    print(f"dropped {len(keys)} files of sample batch {args.batch} into {profile.uri('raw')}")
    if profile.source_db is not None:
        counts = load_batch(profile.source_db.dsn(), SAMPLE / f"batch-{args.batch:02d}")
        print(f"operational source upserts: {counts}")
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    from lakehouse.pipeline import drop_files

    for key in drop_files(_profile(args), args.folder, args.dataset):
        print(f"raw/{key}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from lakehouse import pipeline

    profile = _profile(args)
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    print(f"triggered {run_id}")
    pipeline.wait_for_run(profile, run_id, timeout=args.timeout, echo=True)
    print(json.dumps(pipeline.summary(profile), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the profile's services, run the thin sample through every layer, show the result."""
    from lakehouse import pipeline, services
    from lakehouse.versions import fetch_jars

    profile = _profile(args)
    started = time.monotonic()
    fetch_jars()
    # One triggered run: no hourly run may start beside it (config/pipelines.yaml).
    os.environ.setdefault("LAKEHOUSE_MASTER_SCHEDULE", "none")
    services.Stack(profile).start()
    manifest = pipeline.prepare_sample_run(profile)
    print(f"dropped the reference sample into {profile.uri('raw')}, loaded the operational DB")
    pipeline.wait_for_dag(profile)
    run_id = pipeline.trigger(profile)
    print(f"triggered master DAG run {run_id}")
    pipeline.wait_for_run(profile, run_id, timeout=args.timeout, echo=True)
    result = pipeline.summary(profile)
    api = f"http://127.0.0.1:{profile.airflow.api_port}"
    print(f"\nDone in {time.monotonic() - started:.0f}s (profile {profile.name}).")
    print(f"  RAW        left: {sum(result['raw'].values())} files")
    print(f"  BRONZE     files {result['bronze_files']}  {profile.uri('bronze')}")
    print(f"             tables from the operational DB: {result['bronze_tables']}")
    print(f"  QUARANTINE files {result['quarantined_files']}  {profile.uri('quarantine')}")
    print(
        f"  SILVER     Delta tables        {profile.uri('silver')} (events, transactions, "
        "users with SCD2 history, shipment_tracking)"
    )
    print(f"  GOLD       Delta table         {profile.uri('gold', 'daily_event_counts')}")
    wh = result.get("warehouse", {})
    print(
        f"  WAREHOUSE  {wh.get('table')}: {wh.get('rows')} rows, {wh.get('events')} events "
        f"(expected {manifest['datasets']['events']['silver_rows']} events)"
    )
    login = f"{profile.airflow.admin_user} / $LAKEHOUSE_AIRFLOW_ADMIN_PASSWORD"
    print(f"  Airflow UI {api}  login {login}  (stop everything: make down PROFILE={profile.name})")
    return 0


def cmd_warehouse(args: argparse.Namespace) -> int:
    from lakehouse import warehouse, warehouse_sql

    if args.action == "ddl":  # no profile needed: print the DDL of one or all tables
        defs = warehouse_sql.table_defs()
        for name in args.tables or sorted(defs):
            for statement in warehouse_sql.ddl(defs[name], args.schema, args.dialect):
                print(statement + ";\n")
        return 0
    profile = _profile(args)
    if args.action == "bootstrap":
        for statement in warehouse.bootstrap(profile):
            print(statement)
        return 0
    run = warehouse.load if args.action == "load" else warehouse.validate
    result = run(profile, args.tables or None)
    print(json.dumps(result if isinstance(result, dict) else result.as_dict(), indent=2))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from lakehouse.deploy import deploy

    profile = _profile(args)
    calls = deploy(profile, dry_run=args.dry_run)
    verb = "would call" if args.dry_run else "called"
    for call in calls:
        print(f"{verb}: {call.describe()}")
    print(f"{len(calls)} change(s){' (dry run: nothing changed)' if args.dry_run else ''}; "
          f"profile {profile.name}")  # fmt: skip
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from lakehouse.airflow_env import airflow_environment
    from lakehouse.services import _airflow_bin

    env = airflow_environment(_profile(args))
    return subprocess.call([_airflow_bin(), *args.rest], env=env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakehouse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--profile",
        default=os.environ.get("LAKEHOUSE_PROFILE"),
        help="local | embedded | aws (default: LAKEHOUSE_PROFILE, else local)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("services", help="start/stop/status of the native services")
    p.add_argument("action", choices=["start", "stop", "status", "restart"])
    p.add_argument("names", nargs="*")
    p.set_defaults(func=cmd_services)

    sub.add_parser("jars", help="fetch the Spark jars with Maven").set_defaults(func=cmd_jars)

    p = sub.add_parser("seed", help="generate the reference dataset (messy, with a manifest)")
    p.add_argument("--scale", type=float, default=0.01, help="1 = about 1 million events")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("drop-sample", help="one batch of the committed sample into RAW + DB")
    p.add_argument("--batch", type=int, choices=[1, 2, 3], default=1)
    p.set_defaults(func=cmd_drop_sample)

    p = sub.add_parser("drop", help="upload a folder of files into RAW")
    p.add_argument("folder", type=Path)
    p.add_argument("--dataset", default="events")
    p.set_defaults(func=cmd_drop)

    p = sub.add_parser("run", help="trigger the master DAG and wait")
    p.add_argument("--timeout", type=float, default=1200)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run the whole pipeline on the sample data")
    p.add_argument("--timeout", type=float, default=1200)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("warehouse", help="warehouse DDL, bootstrap, load and validation")
    p.add_argument("action", choices=["ddl", "bootstrap", "load", "validate"])
    p.add_argument("tables", nargs="*", help="table names (default: all)")
    p.add_argument("--dialect", choices=["postgres", "redshift"], default="postgres")
    p.add_argument("--schema", default="analytics", help="schema for `ddl`")
    p.set_defaults(func=cmd_warehouse)

    p = sub.add_parser("deploy", help="deploy the jobs and warehouse DDL to AWS (aws profile)")
    p.add_argument("--dry-run", action="store_true", help="print the calls, change nothing")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("airflow", help="the Airflow CLI with this profile's environment")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_airflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the message is the useful part; the traceback is noise here
        if os.environ.get("LAKEHOUSE_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
