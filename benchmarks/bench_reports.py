"""Benchmarks of the reports feature on a generated SQLite database.

    python benchmarks/bench_reports.py [--projects 100000] [--visits 1000000] [--db PATH]

Builds (or reuses, with --db pointing at an existing file) a database with the reference
data, the demo teams and users, `--projects` projects (half as many companies) from
`crm.reference.demo.generate`, `--visits` visits and a stage history, then measures against
the budgets of the issue:

- weekly report workbook: at most 20 s and 300 MB peak memory (measured in a child process
  running `crm report weekly`, peak resident set size from the kernel);
- dashboard page and GET /api/v1/dashboard: p95 at most 200 ms (leader, all teams);
- importing a 10,000-row ledger: at most 30 s including validation.

Prints one line per measure and exits non-zero when a budget is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGETS = {
    "weekly_seconds": 20.0,
    "weekly_peak_mb": 300.0,
    "dashboard_p95_ms": 200.0,
    "import_seconds": 30.0,
}


def make_app(db_path: Path, instance: Path) -> Any:
    os.environ["CRM_INSTANCE_PATH"] = str(instance)
    from crm import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "CRM_UPLOAD_DIR": str(instance / "uploads"),
        }
    )


def generate(app: Any, projects: int, visits: int, today: date) -> None:
    """Fill an empty database: reference data, demo users, projects, history, visits."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from crm.accounts.models import User
    from crm.enums import MAIN_STAGES
    from crm.extensions import db
    from crm.pipeline.models import Company, Project, StageChange
    from crm.reference.demo import ensure_teams_and_users
    from crm.reference.demo import generate as generate_projects
    from crm.reference.models import Region
    from crm.reference.seed import load_reference_data
    from crm.visits.models import Visit

    with app.app_context():
        upgrade()
        load_reference_data(db.session, ROOT / "seed")
        ensure_teams_and_users(db.session)
        db.session.flush()
        rng = random.Random(47)
        generate_projects(
            db.session, projects=projects, companies=max(1, projects // 2), rng=rng, today=today
        )
        db.session.commit()

        # Stage history: one change per stage date reached.
        history: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        columns = [getattr(Project, f"{s.value}_on") for s in MAIN_STAGES]
        for row in db.session.execute(select(Project.id, *columns)).yield_per(10000):
            previous = None
            for stage, day in zip(MAIN_STAGES[1:], row[2:], strict=True):
                if day is None:
                    break
                history.append(
                    {
                        "project_id": row[0],
                        "from_stage": previous or MAIN_STAGES[0],
                        "to_stage": stage,
                        "on": day,
                        "at": now,
                    }
                )
                previous = stage
            if len(history) >= 50000:
                db.session.execute(insert(StageChange), history)
                history = []
        if history:
            db.session.execute(insert(StageChange), history)

        users = db.session.execute(select(User.id, User.team_id).where(User.team_id.isnot(None)))
        authors = [(uid, tid) for uid, tid in users]
        regions = list(db.session.scalars(select(Region.id)))
        max_company = db.session.scalar(select(Company.id).order_by(Company.id.desc()).limit(1))
        batch: list[dict[str, Any]] = []
        for _ in range(visits):
            author, team = rng.choice(authors)
            batch.append(
                {
                    "on": today - timedelta(days=int(rng.expovariate(1 / 300)) % 1500),
                    "type": rng.choice(("visit", "meeting", "event")),
                    "region_id": rng.choice(regions),
                    "company_id": rng.randint(1, max_company),
                    "author_id": author,
                    "team_id": team,
                    "created_at": now,
                }
            )
            if len(batch) >= 50000:
                db.session.execute(insert(Visit), batch)
                batch = []
        if batch:
            db.session.execute(insert(Visit), batch)
        db.session.commit()
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def bench_weekly(db_path: Path, instance: Path, week: str) -> tuple[float, float]:
    """Seconds and peak MB of `crm report weekly` in a child process."""
    out = instance / "bench-weekly.xlsx"
    env = dict(os.environ, CRM_INSTANCE_PATH=str(instance), PYTHONPATH=str(ROOT))
    env["CRM_DATABASE_URL"] = f"sqlite:///{db_path}"
    code = (
        "import resource, sys, time\n"
        "from crm.cli import main\n"
        "t = time.perf_counter()\n"
        "try:\n"
        f"    sys.argv = ['crm', 'report', 'weekly', '--week', '{week}', '--out', '{out}']\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "elapsed = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(f'BENCH {elapsed:.3f} {peak:.1f}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode:
        raise SystemExit(result.stdout + result.stderr)
    line = [x for x in result.stdout.splitlines() if x.startswith("BENCH ")][-1]
    _, seconds, peak = line.split()
    return float(seconds), float(peak)


def bench_dashboard(app: Any, rounds: int) -> dict[str, float]:
    from sqlalchemy import select

    from crm.accounts.models import User
    from crm.accounts.services import issue_token
    from crm.extensions import db

    with app.app_context():
        leader = db.session.scalar(select(User).where(User.email == "leader@example.com"))
        user_id = leader.get_id()
        token = issue_token(db.session, leader, "bench").secret
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
        now = time.time()
        session["login_at"] = now
        session["seen_at"] = now
    results: dict[str, float] = {}
    # Cold: every request computes every number (the cache switched off).
    app.config["CRM_REPORT_CACHE_SECONDS"] = 0
    cold = []
    for _ in range(5):
        started = time.perf_counter()
        assert (
            client.get(
                "/api/v1/dashboard", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
        cold.append((time.perf_counter() - started) * 1000)
    results["dashboard_cold_p50_ms"] = statistics.median(cold)
    app.config["CRM_REPORT_CACHE_SECONDS"] = 120
    for name, url, headers in (
        ("dashboard_page", "/dashboard", {}),
        ("dashboard_api", "/api/v1/dashboard", {"Authorization": f"Bearer {token}"}),
    ):
        timings = []
        for i in range(rounds + 2):
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (url, response.status_code)
            if i >= 2:  # warm-up
                timings.append(elapsed)
        timings.sort()
        results[f"{name}_p50_ms"] = statistics.median(timings)
        results[f"{name}_p95_ms"] = timings[max(0, int(len(timings) * 0.95) - 1)]
    return results


def bench_import(app: Any, rows: int, workdir: Path) -> dict[str, float]:
    from benchmarks.ledger_fixture import write_ledger

    path = workdir / "bench-ledger.xlsx"
    write_ledger(path, rows)
    from sqlalchemy import select

    from crm.accounts.models import User
    from crm.extensions import db
    from crm.reports import imports

    with app.app_context():
        from crm.reports.import_apply import apply

        user = db.session.scalar(select(User).where(User.email == "lead.wangcheng@example.com"))
        limits = imports.Limits(max_bytes=50 * 2**20, max_rows=20000)
        uploads = workdir / "uploads"
        started = time.perf_counter()
        result = imports.upload(
            db.session, user, path.name, path.read_bytes(), upload_dir=uploads, limits=limits
        )
        db.session.commit()
        validated = time.perf_counter() - started
        record = result.record
        assert record.error_count == 0, record.result["issues"][:5]
        apply(db.session, user, record, upload_dir=uploads, limits=limits, today=date.today())
        db.session.commit()
        total = time.perf_counter() - started
        assert record.create_count == rows, (record.create_count, rows)
    return {"import_validate_s": validated, "import_seconds": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--db", type=Path, help="database file to create or reuse")
    parser.add_argument("--skip", nargs="*", default=[], choices=["weekly", "dashboard", "import"])
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    db_path = args.db or workdir / "bench.sqlite3"
    instance = workdir / "instance"
    instance.mkdir()
    today = date.today()
    app = make_app(db_path, instance)
    if not db_path.exists() or db_path.stat().st_size == 0:
        started = time.perf_counter()
        generate(app, args.projects, args.visits, today)
        print(
            f"generated {args.projects} projects, {args.visits} visits "
            f"in {time.perf_counter() - started:.1f} s"
        )
    else:
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()  # a reused database gets any newer migration
    from crm.reports.weeks import Week

    week = Week.of(today).label
    results: dict[str, float] = {}
    if "weekly" not in args.skip:
        seconds, peak = bench_weekly(db_path, instance, week)
        results.update(weekly_seconds=seconds, weekly_peak_mb=peak)
    if "dashboard" not in args.skip:
        results.update(bench_dashboard(app, args.rounds))
        results["dashboard_p95_ms"] = max(
            results["dashboard_page_p95_ms"], results["dashboard_api_p95_ms"]
        )
    if "import" not in args.skip:
        results.update(bench_import(app, args.import_rows, workdir))
    failed = False
    for name, value in results.items():
        budget = BUDGETS.get(name)
        verdict = "" if budget is None else ("ok" if value <= budget else "OVER BUDGET")
        failed |= verdict == "OVER BUDGET"
        shown = f"<= {budget:g}" if budget is not None else ""
        print(f"{name:28s} {value:10.1f} {shown:10s} {verdict}")
    print(
        f"bench process peak RSS: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; files in {workdir}"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
