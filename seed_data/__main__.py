"""CLI: python -m seed_data thin --out DIR [--seed N]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seed_data import thin


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m seed_data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_thin = sub.add_parser("thin", help="the thin-slice events dataset (a few hundred rows)")
    p_thin.add_argument("--out", type=Path, required=True)
    p_thin.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    manifest = thin.generate(args.out, args.seed)
    print(json.dumps({k: manifest[k] for k in ("rows_in", "silver_rows", "duplicates")}))


if __name__ == "__main__":
    main()
