"""Streaming file writers: rows go straight to disk, so any scale fits in memory.

Every writer is deterministic (gzip without a timestamp, fixed JSON separators) so the same
seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq


def _open_text(path: Path, gz: bool, newline: str | None = None) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        raw = gzip.GzipFile(filename="", mode="wb", fileobj=open(path, "wb"), mtime=0)  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", newline=newline)
    return open(path, "w", encoding="utf-8", newline=newline)  # noqa: SIM115


class Sink:
    """One output file; `columns` are the file's own (possibly drifted) column names."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1
        self._write(row)

    def _write(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class CsvSink(Sink):
    def __init__(
        self,
        path: Path,
        columns: list[str],
        delimiter: str = ",",
        crlf: bool = False,
        bom: bool = False,
        gz: bool = False,
    ) -> None:
        super().__init__(path, columns)
        self.fh = _open_text(path, gz, newline="")
        if bom:
            self.fh.write("\ufeff")
        self.writer = csv.writer(
            self.fh, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n"
        )
        self.writer.writerow(columns)

    def _write(self, row: dict[str, Any]) -> None:
        self.writer.writerow(["" if row.get(c) is None else row[c] for c in self.columns])

    def close(self) -> None:
        self.fh.close()


class NdjsonSink(Sink):
    def __init__(self, path: Path, columns: list[str], gz: bool = False) -> None:
        super().__init__(path, columns)
        self.fh = _open_text(path, gz)

    def _write(self, row: dict[str, Any]) -> None:
        self.fh.write(json.dumps({c: row[c] for c in self.columns if c in row}) + "\n")

    def close(self) -> None:
        self.fh.close()


class JsonArraySink(Sink):
    def __init__(self, path: Path, columns: list[str]) -> None:
        super().__init__(path, columns)
        self.fh = _open_text(path, False)
        self.fh.write("[")

    def _write(self, row: dict[str, Any]) -> None:
        self.fh.write(
            ("\n" if self.rows == 1 else ",\n")
            + json.dumps({c: row[c] for c in self.columns if c in row})
        )

    def close(self) -> None:
        self.fh.write("\n]\n")
        self.fh.close()


class ParquetSink(Sink):
    """Parquet with string columns except the ones typed in `types` (written in row groups)."""

    def __init__(
        self, path: Path, columns: list[str], types: dict[str, pa.DataType], chunk: int = 50_000
    ) -> None:
        super().__init__(path, columns)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
        self.writer = pq.ParquetWriter(path, self.schema)
        self.buffer: dict[str, list] = {c: [] for c in columns}
        self.chunk = chunk

    def _write(self, row: dict[str, Any]) -> None:
        for c in self.columns:
            self.buffer[c].append(row.get(c))
        if len(self.buffer[self.columns[0]]) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        if self.buffer[self.columns[0]]:
            self.writer.write_table(pa.table(self.buffer, schema=self.schema))
            self.buffer = {c: [] for c in self.columns}

    def close(self) -> None:
        self._flush()
        self.writer.close()
