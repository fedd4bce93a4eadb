"""docs/datasets.md's contract tables, generated from spark_jobs/contract.py (`make docs`).

The page's prose is written by hand; each table sits between `<!-- contract:NAME -->` and
`<!-- /contract:NAME -->` and is replaced here, so the page cannot drift from the module the
ingestion, SILVER and the generator read. A unit test fails when the committed page is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lakehouse.paths import REPO_ROOT
from spark_jobs import contract as C

PAGE = REPO_ROOT / "docs" / "datasets.md"
_BLOCK = re.compile(r"(<!-- contract:([\w-]+) -->\n).*?(<!-- /contract:\2 -->)", re.S)


def _reasons(reasons) -> list[str]:
    return ["| reason | when |", "|---|---|", *(f"| `{r.code}` | {r.means} |" for r in reasons)]


def _mib(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n:,}"


def tables() -> dict[str, list[str]]:
    extensions = ", ".join(f"`{e}`" for e in C.SUPPORTED_EXTENSIONS)
    delimiters = " ".join(
        "tab" if d == "\t" else f"`{d}`".replace("|", "\\|") for d in C.DELIMITERS
    )
    return {
        "files": [
            "| accepted | detail |",
            "|---|---|",
            "| formats | CSV or TXT (delimiter detected among "
            f"{delimiters}; RFC 4180 quoting: a quote inside a quoted field is doubled), "
            "JSON (an array of objects), NDJSON (one object per line), Parquet; "
            "any text format gzipped |",
            f"| extensions | {extensions} (`.gz` only after a text extension) |",
            "| encoding | UTF-8 (a BOM is fine) |",
        ],
        "limits": [
            "| limit | default | environment override | what |",
            "|---|---|---|---|",
            *(f"| `{x.name}` | {_mib(x.default)} | `{x.env}` | {x.means} |" for x in C.LIMITS),
        ],
        "file-reasons": _reasons(C.FILE_REASONS),
        "values": [
            "| value | accepted |",
            "|---|---|",
            "| null | "
            + ", ".join(f"`{v}`" if v else "empty" for v in C.NULL_SPELLINGS)
            + " (after trimming, case as listed), and JSON `null` |",
            *(f"| timestamp `{f.name}` | `{f.example}` |" for f in C.TIMESTAMP_FORMATS),
            f"| email | matches `{C.EMAIL_PATTERN}` |",
        ],
        "row-reasons": _reasons(C.ROW_REASONS),
        "file-row-reasons": _reasons(C.FILE_ROW_REASONS),
    }


def render(page: str) -> str:
    """`page` with every contract table replaced by the module's current one."""
    generated = tables()
    seen = set()

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in generated:
            raise KeyError(f"{PAGE}: no contract table named {name!r} (known: {sorted(generated)})")
        seen.add(name)
        return match.group(1) + "\n".join(generated[name]) + "\n" + match.group(3)

    out = _BLOCK.sub(fill, page)
    missing = sorted(set(generated) - seen)
    if missing:
        raise KeyError(f"{PAGE}: no <!-- contract:NAME --> block for {missing}")
    return out


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    path.write_text(render(path.read_text()))
