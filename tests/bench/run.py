"""Run every benchmark module here (tests/bench/bench_*.py) and print one table.

Each module has `run() -> list[dict]`: one row per measurement. A module that fails is reported as
a row and the others still run.
Run: python tests/bench/run.py [NAME ...]   (NAME: e.g. `bigvgan` for bench_bigvgan.py; default: all)
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def modules(names: list[str]) -> list[str]:
    found = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if not names:
        return found
    wanted = [name if name.startswith("bench_") else f"bench_{name}" for name in names]
    unknown = sorted(set(wanted) - set(found))
    if unknown:
        raise SystemExit(f"no benchmark {', '.join(unknown)} (there are: {', '.join(found)})")
    return wanted


def table(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def main(names: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    rows: list[dict[str, Any]] = []
    failed = 0
    for name in modules(names):
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            results = importlib.import_module(name).run()
        except Exception:
            failed += 1
            traceback.print_exc()
            results = [{"benchmark": "(failed: see the traceback above)"}]
        print(f"== {name}: {time.perf_counter() - started:.0f} s", flush=True)
        rows += [{"module": name.removeprefix("bench_"), **row} for row in results]
    print()
    print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
