"""Time the current code beside a previous revision, in the same run.

The previous implementation is ``git archive REV src/territory`` unpacked
under ``benchmarks/out/baseline-REV/src`` and imported by a worker process
(its ``src`` first on ``PYTHONPATH``). The benchmark sends the worker one
labelled call at a time, alternating with the same call on the current code,
so both see the same machine load; the worker times each call (wall and CPU
of its process) and writes the result tables to Parquet so the benchmark
can check that both give the same answer.

Also here: the machine line every section starts with, and the writer that
replaces a benchmark's section of ``docs/benchmarks.md`` between its markers.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "out"
DOC = ROOT / "docs" / "benchmarks.md"

Tables = Mapping[str, pl.DataFrame]


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Return the wall and process CPU seconds of ``fn()`` and its result."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def extract(rev: str) -> Path:
    """Unpack ``src/territory`` of git revision ``rev``; return its ``src``."""
    full = subprocess.run(
        ["git", "rev-parse", "--short=12", rev],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dest = OUT / f"baseline-{full}"
    if not (dest / "src" / "territory" / "__init__.py").exists():
        blob = subprocess.run(
            ["git", "archive", full, "src/territory"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(dest, filter="data")
    return dest / "src"


class Baseline:
    """A worker process running ``script --worker ARGS`` on revision ``rev``."""

    def __init__(self, rev: str, script: Path, args: list[str]) -> None:
        self.rev = rev
        src = extract(rev)
        env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{script.parent}")
        self._proc = subprocess.Popen(
            [sys.executable, str(script), "--worker", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=script.parent,
        )
        self.where = src

    def run(self, label: str, out: Path | None = None) -> dict[str, Any]:
        """Time ``label`` once in the worker; tables go to ``out`` if given."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"label": label, "out": str(out or "")}))
        self._proc.stdin.write("\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"baseline worker ({self.rev}) stopped")
        return dict(json.loads(line))

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)


def serve(calls: Mapping[str, Callable[[], Tables]]) -> None:
    """Answer the benchmark's requests on stdin (the worker side)."""
    warmed: set[str] = set()
    for line in sys.stdin:
        request = json.loads(line)
        label = request["label"]
        if label not in warmed:  # the first call of a kind is not timed
            calls[label]()
            warmed.add(label)
        wall, cpu, tables = timed(calls[label])
        if request["out"]:
            write_tables(tables, Path(request["out"]))
        print(json.dumps({"wall": wall, "cpu": cpu}), flush=True)


def write_tables(tables: Tables, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(where / f"{name}.parquet")


def read_tables(where: Path) -> dict[str, pl.DataFrame]:
    return {p.stem: pl.read_parquet(p) for p in sorted(where.glob("*.parquet"))}


def difference(a: Tables, b: Tables) -> tuple[bool, float]:
    """Return whether ``a`` and ``b`` hold the same rows, and the largest
    relative difference of their float columns (rows matched by sorting)."""
    if sorted(a) != sorted(b):
        return False, float("inf")
    worst = 0.0
    for name in a:
        x, y = a[name], b[name]
        if x.columns != y.columns or x.height != y.height:
            return False, float("inf")
        exact = [c for c in x.columns if not x[c].dtype.is_float()]
        x, y = x.sort(exact, nulls_last=True), y.sort(exact, nulls_last=True)
        for c in x.columns:
            if c in exact:
                if not x[c].equals(y[c]):
                    return False, float("inf")
                continue
            u = x[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
            v = y[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
            if not np.array_equal(np.isnan(u), np.isnan(v)):
                return False, float("inf")
            ok = ~np.isnan(u)
            if ok.any():
                scale = np.maximum(np.abs(u[ok]), np.abs(v[ok]))
                rel = np.abs(u[ok] - v[ok]) / np.where(scale > 0, scale, 1.0)
                worst = max(worst, float(rel.max()))
    return worst <= 1e-9, worst


def machine_line() -> str:
    """Return where and when: date, host, CPUs, Python, SQLite and system."""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.release()})"
    )


def load_line() -> str:
    """Return the load average over 1, 5 and 15 minutes."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def write_section(name: str, body: str) -> None:
    """Replace ``name``'s section of docs/benchmarks.md (between its markers)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if start in doc and end in doc:
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        doc = head + block + tail.lstrip("\n")
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    DOC.write_text(doc, encoding="utf-8")
