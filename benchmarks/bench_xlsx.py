"""Benchmark the streamed xlsx writer: time and peak memory for a large sheet.

Run: ``.venv/bin/python benchmarks/bench_xlsx.py [--rows 100000] [--out FILE]``

Writes one sheet of ``--rows`` rows x 15 columns shaped like a project list (text, amounts
in 万元 and 亿元, dates, a percentage, formula-like text that must be neutralised) with
a 序号 column, title row and a bar chart, then prints wall time, rows per second, peak
Python memory (tracemalloc) and peak resident memory of the process. The weekly report's
budget (issue 7) is 20 s and 300 MB for everything, database work included.

tracemalloc slows Python down by a factor of 2-3, so time and memory are measured in two
separate runs (``--no-memory`` skips the second).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from crm.reports.xlsx import Column, XlsxBook

COLUMNS = [
    Column("name", "项目名称", width=30),
    Column("company", "投资方名称", width=28),
    Column("chain", "所属产业链"),
    Column("zone", "落地园区"),
    Column("stage", "招商阶段", width=10),
    Column("planned", "投资总额", "money_wan"),
    Column("planned_yi", "投资总额", "money_yi"),
    Column("funds", "累计实际到位资金", "money_wan"),
    Column("signed_on", "签约时间", "date"),
    Column("started_on", "开工时间", "date"),
    Column("days", "签约至开工天数", "int"),
    Column("rate", "资金到位率", "percent"),
    Column("owner", "责任人", width=10),
    Column("updated_at", "最近更新", "datetime"),
    Column("notes", "备注", width=40, wrap=True),
]
CHAINS = ["工程机械", "汽车(含智能网联汽车)", "先进储能材料", "显示功能器件", "新一代半导体"]
STAGES = ["线索", "洽谈", "签约", "落地", "开工", "投产"]


def rows(count: int, seed: int = 7):
    """Yield ``count`` plausible project rows (deterministic for a given seed)."""
    rnd = random.Random(seed)
    base = date(2024, 1, 1)
    for i in range(count):
        planned = Decimal(int(rnd.lognormvariate(10, 1.2) * 100)) / 100
        signed = base + timedelta(days=rnd.randrange(900))
        started = signed + timedelta(days=rnd.randrange(10, 200)) if i % 3 else None
        yield [
            f"年产{i % 97 + 1}万套零部件项目{i}",
            f"湖南某某科技有限公司{i % 20000}",
            CHAINS[i % len(CHAINS)],
            "长沙经济技术开发区",
            STAGES[i % len(STAGES)],
            planned,
            planned / 10000,
            planned * Decimal("0.4"),
            signed,
            started,
            (started - signed).days if started else None,
            0.4,
            f"张{i % 300}",
            datetime(2026, 11, 20, 9, 30),
            '=HYPERLINK("http://x")' if i % 1000 == 0 else f"第{i % 52 + 1}周跟进：待签约",
        ]


def write(path: Path, count: int) -> None:
    """Write the benchmark workbook to ``path``."""
    with XlsxBook(path) as book:
        sheet = book.sheet(
            "项目清单",
            COLUMNS,
            title_row="2026-11-16 至 2026-11-22 项目清单",
            serial_column="序号",
        )
        for row in rows(count):
            sheet.append(row)
        summary = book.sheet("按阶段", [Column("stage", "阶段"), Column("n", "项目数", "int")])
        for n, stage in enumerate(STAGES):
            summary.append([stage, count // len(STAGES) + n])
        book.bar_chart(summary, category="stage", values=["n"], title="按阶段")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "bench.xlsx"
        started = time.perf_counter()
        write(out, args.rows)
        elapsed = time.perf_counter() - started
        size_mb = out.stat().st_size / 1e6
        cells = args.rows * len(COLUMNS)
        print(f"rows={args.rows} columns={len(COLUMNS)} cells={cells}")
        print(f"time={elapsed:.1f}s  rows/s={args.rows / elapsed:,.0f}  file={size_mb:.1f} MB")
        if not args.no_memory:
            tracemalloc.start()
            write(Path(tmp) / "bench-mem.xlsx", args.rows)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak python memory (tracemalloc)={peak / 2**20:.1f} MB")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak process RSS={rss:.0f} MB (includes the interpreter and imports)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
