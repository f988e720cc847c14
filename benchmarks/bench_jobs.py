"""Benchmarks of the jobs (not pages) the issues budget, in the one-command run:

- incentives (issue 5): every measure of every stored policy for 10,000 projects in every
  zone, at most 2 s; the policies are compiled once (the app's cache), the projects' facts
  are built and validated before the clock starts;
- the weekly report (issue 7): `crm report weekly` for all teams over the benchmark
  database, in a child process so that its peak memory (RSS, the whole process) is its
  own: at most 20 s and 300 MB;
- importing a 10,000-row ledger (issue 7), validation included: at most 30 s; run as a
  lead of a demo team on the benchmark database, rolled back afterwards.

The standalone scripts (`bench_incentives.py`, `bench_reports.py`) say more about each.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.harness import Context, Result

ROOT = Path(__file__).resolve().parent.parent
INCENTIVE_PROJECTS = 10_000
LEDGER_ROWS = 10_000


def incentives(ctx: Context) -> Result:
    from benchmarks.bench_incentives import random_facts
    from crm.incentives import services, store
    from crm.incentives.facts import validate_facts

    rng = random.Random(20250225)
    fact_sets = []
    for _ in range(INCENTIVE_PROJECTS):
        facts, errors = validate_facts(random_facts(rng))
        assert not errors, errors
        fact_sets.append(facts)
    as_of = date(2026, 6, 1)
    results = 0

    def evaluate(session: Any) -> None:
        nonlocal results
        policies = store.current_policies(session)  # compiled once, then cached
        zones = services.zones(session)
        results = 0
        for facts in fact_sets:
            found, _ = services.compare_zones(session, zones, facts, as_of, policies=policies)
            results += sum(len(item.evaluation.results) for item in found)

    with ctx.session() as session:
        store.current_policies(session)  # the cold compile is not the budget's
    result = ctx.time_call(
        f"incentives: {INCENTIVE_PROJECTS:,} projects × every zone",
        evaluate,
        budget_ms=2_000,
        repeat=3,
    )
    result.note = f"{results:,} measure results per run"
    return result


def weekly_report(ctx: Context) -> Result:
    from crm.reports.weeks import Week

    week = Week.of(date.today()).label
    work = Path(tempfile.mkdtemp(prefix="crm-bench-weekly-"))
    out = work / "weekly.xlsx"
    env = dict(os.environ, CRM_INSTANCE_PATH=str(work), PYTHONPATH=str(ROOT))
    env["CRM_DATABASE_URL"] = ctx.database_url
    code = (
        "import resource, sys, time\n"
        "from crm.cli import main\n"
        "started = time.perf_counter()\n"
        "try:\n"
        f"    sys.argv = ['crm', 'report', 'weekly', '--week', '{week}', '--out', '{out}']\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "elapsed = time.perf_counter() - started\n"
        # VmHWM is this process's own peak; on Linux ru_maxrss survives execve and would
        # report the benchmark process's size at the fork.
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "try:\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    peak = int(status.split()[0]) / 1024\n"
        "except (OSError, IndexError, ValueError):\n"
        "    pass\n"
        "print(f'BENCH {elapsed:.3f} {peak:.1f}')\n"
    )
    timings, peaks = [], []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
        )
        if done.returncode:
            raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
        line = [x for x in done.stdout.splitlines() if x.startswith("BENCH ")][-1]
        _, seconds, peak = line.split()
        timings.append(float(seconds) * 1000)
        peaks.append(float(peak))
    size = out.stat().st_size / 2**20
    return Result(
        name=f"weekly report {week}, all teams (child process)",
        timings_ms=timings,
        budget_ms=20_000,
        peak_mb=max(peaks),
        budget_mb=300,
        note=f"peak = the process's RSS; workbook {size:.1f} MB",
    )


def ledger_import(ctx: Context) -> Result:
    from sqlalchemy import select

    from benchmarks.ledger_fixture import write_ledger
    from crm.accounts.models import User
    from crm.reports import imports
    from crm.reports.import_apply import apply

    work = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    path = work / "ledger.xlsx"
    write_ledger(path, LEDGER_ROWS)
    data = path.read_bytes()
    limits = imports.Limits(max_bytes=50 * 2**20, max_rows=20_000)
    counted = {}

    def run(session: Any) -> None:
        user = session.scalar(select(User).where(User.email == "lead.wangcheng@example.com"))
        started = time.perf_counter()
        uploaded = imports.upload(
            session, user, path.name, data, upload_dir=work / "uploads", limits=limits
        )
        counted["validate_ms"] = (time.perf_counter() - started) * 1000
        record = uploaded.record
        assert record.error_count == 0, record.result["issues"][:5]
        apply(session, user, record, upload_dir=work / "uploads", limits=limits, today=date.today())
        session.flush()
        assert record.create_count + record.update_count == LEDGER_ROWS

    result = ctx.time_call(
        f"ledger import, {LEDGER_ROWS:,} rows (validate + apply)",
        run,
        budget_ms=30_000,
        repeat=2,
    )
    result.note = f"validation alone {counted['validate_ms'] / 1000:.1f} s; rolled back"
    return result


BENCHMARKS = [incentives, weekly_report, ledger_import]
