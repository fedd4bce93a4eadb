"""The input contract has one home (spark_jobs/contract.py): pyspark-free, read by ingestion,
SILVER and the generator, and the docs' tables generated from it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.config import contract_docs
from seed_data import contract as generator
from spark_jobs import contract as C

ROOT = Path(__file__).parents[2]
CODES = {r.code for r in (*C.FILE_REASONS, *C.ROW_REASONS, *C.FILE_ROW_REASONS)}


def test_the_committed_datasets_page_shows_the_contract():
    page = contract_docs.PAGE.read_text()
    assert page == contract_docs.render(page), "stale: run `make docs`"


def test_a_page_missing_a_contract_table_is_an_error():
    with pytest.raises(KeyError, match="row-reasons"):
        contract_docs.render(contract_docs.PAGE.read_text().replace("contract:row-reasons", "x"))


def test_the_contract_imports_no_spark():
    probe = "import sys, spark_jobs.contract; print(sorted(m for m in sys.modules if 'spark' in m))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert out.strip() == "['spark_jobs', 'spark_jobs.contract']"


def test_reason_codes_are_unique_and_the_generator_writes_accepted_spellings():
    codes = [r.code for r in (*C.FILE_REASONS, *C.ROW_REASONS, *C.FILE_ROW_REASONS)]
    assert len(codes) == len(set(codes))
    assert set(generator.TIMESTAMP_FORMATS) <= {f.name for f in C.TIMESTAMP_FORMATS}
    assert generator.NULL_SPELLINGS is C.NULL_SPELLINGS


def test_no_reason_code_is_spelled_out_outside_the_contract():
    """Code says `contract.UNKNOWN_ENUM`, never "unknown_enum": one home, no drift."""
    found = []
    for folder in ("lakehouse", "spark_jobs", "seed_data"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "spark_jobs" / "contract.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in CODES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []
