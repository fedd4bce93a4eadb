"""The reference dataset generator.

python -m seed_data generate --scale 0.01 --seed 42 --out DIR [--batches 3] [--start 2026-10-31]
python -m seed_data load-operational --data DIR --batch N [--profile local]
python -m seed_data thin --out DIR          (the few-hundred-row walking-skeleton slice)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from seed_data.generate import START, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seed_data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_gen = sub.add_parser("generate", help="the messy multi-source dataset + manifest.json")
    p_gen.add_argument("--scale", type=float, default=0.01, help="1 = about 1 million events")
    p_gen.add_argument("--seed", type=int, default=42)
    p_gen.add_argument("--batches", type=int, default=3, help="daily batches (default 3)")
    p_gen.add_argument(
        "--start",
        type=date.fromisoformat,
        default=START,
        help=f"the first batch's day, YYYY-MM-DD (default {START})",
    )
    p_gen.add_argument("--out", type=Path, required=True)
    p_load = sub.add_parser("load-operational", help="apply a batch to the operational DB")
    p_load.add_argument("--data", type=Path, required=True, help="a generated dataset folder")
    p_load.add_argument("--batch", type=int, required=True)
    p_load.add_argument("--profile", default=None)
    args = parser.parse_args(argv)

    if args.command == "generate":
        if args.scale <= 0 or args.batches < 1:
            parser.error("--scale must be > 0 and --batches >= 1")
        started = time.monotonic()
        manifest = generate(
            args.out,
            args.scale,
            args.seed,
            args.batches,
            progress=sys.stderr.isatty() and args.scale >= 0.1,
            start=args.start,
        )
        rows = {k: v["rows_in"] for k, v in manifest["datasets"].items()}
        print(
            f"wrote {args.out} in {time.monotonic() - started:.1f}s: rows {rows}; "
            f"manifest {args.out / 'manifest.json'}"
        )
    elif args.command == "load-operational":
        from lakehouse.config import load_profile
        from seed_data.operational import load_batch

        profile = load_profile(args.profile)
        if profile.source_db is None:
            parser.error(f"profile {profile.name} has no source_db")
        batch_dir = args.data / f"batch-{args.batch:02d}"
        if not batch_dir.is_dir():
            parser.error(f"{batch_dir} not found: generate the data first")
        print(json.dumps(load_batch(profile.source_db.dsn(), batch_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
