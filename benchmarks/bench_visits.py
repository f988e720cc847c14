"""Benchmark: the visit pages with 1,000,000 visits (issue 4).

Generates, into a temporary SQLite database (or a fresh PostgreSQL database next to
`--database-url`), the demo teams and users plus extra officers, 100,000 projects and
20,000 companies (`crm.reference.demo.generate`), then 1,000,000 visits with their
projects and participants and 200,000 follow-up tasks in bulk (executemany). It then
measures server time through the app (Flask test client, logged in) and reports p50/p95:

- a project page with its visit timeline (first page) .......... budget p95 <= 30 ms
- "My work" ...................................................... budget p95 <= 30 ms
- the visit list filtered by team and week ....................... budget p95 <= 50 ms

Run: `.venv/bin/python benchmarks/bench_visits.py` (about 5 minutes on SQLite; `--visits`
etc. for smaller runs; `--keep DIR` keeps the SQLite database there and reuses it).
Exit status 1 when a budget is exceeded at full size.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUDGETS_MS = {
    "baseline: profile page": math.inf,
    "project page": 30.0,
    "my work": 30.0,
    "visits by team and week": 50.0,
}
TYPES = ("company_visit", "company_visit", "company_visit", "company_came", "online", "event")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def make_app(url: str, instance: str) -> Any:
    os.environ["CRM_INSTANCE_PATH"] = instance
    from crm import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "benchmark",
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "localhost",
            "CRM_LOGIN_MAX_FAILURES": 10**6,
        }
    )


def _postgres(base_url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"crm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


# --- data ---------------------------------------------------------------------------------


def add_officers(session: Any, per_team: int) -> None:
    """Officers in every demo team, so work spreads as in a city's bureau (bulk insert)."""
    from sqlalchemy import insert, select

    from crm.accounts.models import Team, User
    from crm.reference.demo import DEMO_PASSWORD
    from crm.security import hash_password

    password_hash = hash_password(DEMO_PASSWORD)
    now = datetime.now(UTC)
    rows = []
    for team_id, code in session.execute(select(Team.id, Team.code)):
        for n in range(per_team):
            rows.append(
                {
                    "email": f"bench.{code}.{n}@example.com",
                    "name": f"{code}专员{n}",
                    "password_hash": password_hash,
                    "role": "officer",
                    "team_id": team_id,
                    "active": True,
                    "session_version": 1,
                    "totp_enabled": False,
                    "recovery_codes": [],
                    "created_at": now,
                }
            )
    session.execute(insert(User), rows)


def bulk(session: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """executemany through the driver (the fastest portable way to load millions of rows)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    mark = "?" if dialect == "sqlite" else "%s"
    quoted = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join([mark] * len(columns))})'
    session.connection().exec_driver_sql(sql, rows)


def _value(value: Any, sqlite: bool) -> Any:
    """Dates and times as the column types store them on SQLite (text), native otherwise."""
    if not sqlite:
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def generate_work(session: Any, visits: int, tasks: int, rng: random.Random, today: date) -> None:
    from sqlalchemy import select

    from crm.accounts.models import User
    from crm.pipeline.models import Company, Project

    sqlite = session.get_bind().dialect.name == "sqlite"
    projects = session.execute(
        select(
            Project.id,
            Project.company_id,
            Project.team_id,
            Project.source_region_id,
            Company.hq_city,
        ).join(Company, Company.id == Project.company_id)
    ).all()
    officers: dict[int, list[int]] = defaultdict(list)
    for uid, tid in session.execute(select(User.id, User.team_id).where(User.team_id.is_not(None))):
        officers[tid].append(uid)
    by_team: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(projects):
        by_team[row.team_id].append(index)
    now = datetime.now(UTC)
    batch = 50_000
    visit_rows, link_rows, people_rows = [], [], []

    def flush() -> None:
        bulk(
            session,
            "visit",
            [
                "id",
                "on",
                "type",
                "city",
                "region_id",
                "company_id",
                "author_id",
                "team_id",
                "purpose",
                "outcome",
                "created_at",
            ],
            visit_rows,
        )
        bulk(session, "visit_project", ["visit_id", "project_id"], link_rows)
        bulk(session, "visit_participant", ["visit_id", "user_id"], people_rows)
        visit_rows.clear(), link_rows.clear(), people_rows.clear()

    log(f"inserting {visits:,} visits with their projects and participants")
    for vid in range(1, visits + 1):
        p = projects[rng.randrange(len(projects))]
        team_officers = officers[p.team_id]
        author = rng.choice(team_officers)
        # Most visits are recent; some go back five years.
        on = today - timedelta(days=min(1825, int(rng.expovariate(1 / 300))))
        visit_rows.append(
            (
                vid,
                _value(on, sqlite),
                rng.choice(TYPES),
                p.hq_city,
                p.source_region_id,
                p.company_id,
                author,
                p.team_id,
                "走访了解投资意向",
                "对方有意向",
                _value(now, sqlite),
            )
        )
        link_rows.append((vid, p.id))
        if rng.random() < 0.15:
            other = projects[rng.choice(by_team[p.team_id])]
            if other.id != p.id:
                link_rows.append((vid, other.id))
        people_rows.append((vid, author))
        if rng.random() < 0.3 and len(team_officers) > 1:
            colleague = rng.choice(team_officers)
            if colleague != author:
                people_rows.append((vid, colleague))
        if len(visit_rows) >= batch:
            flush()
    flush()

    log(f"inserting {tasks:,} follow-up tasks")
    rows = []
    for tid in range(1, tasks + 1):
        team_id = rng.choice(list(officers))
        owner = rng.choice(officers[team_id])
        project = projects[rng.choice(by_team[team_id])] if by_team[team_id] else None
        # Follow-ups come from visits (mostly recent), due within a month of them; almost
        # all past ones are done, a few are overdue, most future ones are open.
        due = today - timedelta(days=int(rng.expovariate(1 / 300)) - rng.randint(-5, 30))
        done = rng.random() < (0.985 if due < today else 0.1)
        done_at = datetime.combine(due, dtime(10), tzinfo=UTC) if done else None
        rows.append(
            (
                tid,
                f"跟进事项 {tid}",
                owner,
                team_id,
                project.id if project else None,
                _value(due, sqlite),
                _value(done_at, sqlite) if done_at else None,
                "已完成" if done else None,
                owner,
                _value(now, sqlite),
            )
        )
        if len(rows) >= batch:
            bulk(
                session,
                "task",
                [
                    "id",
                    "title",
                    "owner_id",
                    "team_id",
                    "project_id",
                    "due_on",
                    "done_at",
                    "done_note",
                    "created_by_id",
                    "created_at",
                ],
                rows,
            )
            rows.clear()
    bulk(
        session,
        "task",
        [
            "id",
            "title",
            "owner_id",
            "team_id",
            "project_id",
            "due_on",
            "done_at",
            "done_note",
            "created_by_id",
            "created_at",
        ],
        rows,
    )


def build(app: Any, args: argparse.Namespace) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from crm.extensions import db
    from crm.reference.demo import ensure_teams_and_users, generate
    from crm.reference.seed import load_reference_data
    from crm.visits.models import Visit

    with app.app_context():
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Visit)):
            log("reusing the data already in the database")
            return
        load_reference_data(db.session, ROOT / "seed")
        ensure_teams_and_users(db.session)
        add_officers(db.session, args.officers_per_team)
        db.session.commit()
        rng = random.Random(args.seed)
        today = date.today()
        log(f"generating {args.projects:,} projects and {args.companies:,} companies")
        generate(db.session, projects=args.projects, companies=args.companies, rng=rng, today=today)
        db.session.commit()
        generate_work(db.session, args.visits, args.tasks, rng, today)
        db.session.commit()
        log("analyzing")
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


# --- measurement --------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def measure(app: Any, args: argparse.Namespace) -> dict[str, tuple[float, float, int, int]]:
    from sqlalchemy import event, func, select

    from crm.accounts.models import Team, User
    from crm.enums import Role
    from crm.extensions import db
    from crm.pipeline.models import Project
    from crm.reference.demo import DEMO_PASSWORD
    from crm.visits.models import Task, visit_project

    rng = random.Random(args.seed + 1)
    statements: list[int] = [0]

    def count(*_a: Any) -> None:
        statements[0] += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        teams = db.session.execute(select(Team.id, Team.code)).all()
        officers = db.session.execute(
            select(User.email, User.team_id).where(
                User.role == Role.OFFICER, User.email.like("bench.%")
            )
        ).all()
        leader = db.session.scalar(select(User.email).where(User.role == Role.LEADER))
        team_of_sample = rng.choice(teams).id
        sample_projects = db.session.scalars(
            select(Project.id)
            .where(
                Project.team_id == team_of_sample,
                Project.id.in_(select(visit_project.c.project_id)),
            )
            .order_by(func.random())
            .limit(args.requests)
        ).all()
        open_tasks = db.session.scalar(select(func.count()).where(Task.done_at.is_(None)))
    results: dict[str, list[float]] = defaultdict(list)
    queries: dict[str, int] = {}

    def timed(client: Any, name: str, url: str) -> None:
        statements[0] = 0
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (url, response.status_code)
        results[name].append(elapsed)
        queries[name] = max(queries.get(name, 0), statements[0])

    def logged_in(email: str) -> Any:
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, email
        return client

    with app.app_context():
        officer_of_team = next(e for e, t in officers if t == team_of_sample)
        client = logged_in(officer_of_team)
        # A page of the foundation, for scale: what any page costs on this machine.
        for _ in range(max(20, args.requests // 4)):
            timed(client, "baseline: profile page", "/profile")
        # Server time with the database in memory (each page is read once first), as on a
        # running server; the first read of a cold page from disk is not what is measured.
        for pid in sample_projects:
            client.get(f"/projects/{pid}")
        for pid in sample_projects:
            timed(client, "project page", f"/projects/{pid}")
        for email, _team in rng.sample(officers, min(20, len(officers))):
            client = logged_in(email)
            client.get("/my-work")
            for _ in range(max(1, args.requests // 20)):
                timed(client, "my work", "/my-work")
        today = date.today()
        leader_client = logged_in(leader)
        requests = []
        for n in range(args.requests):
            team_id = rng.choice(teams).id
            day = today - timedelta(days=7 * rng.randint(0, 104))  # any week of two years
            iso = day.isocalendar()
            url = f"/visits?week={iso.year}-W{iso.week:02d}&team={team_id}"
            # Half by the leader, half by an officer of that team.
            who = leader_client if n % 2 else logged_in_cache(officers, team_id, logged_in)
            requests.append((who, url))
        for who, url in requests:
            who.get(url)
        for who, url in requests:
            timed(who, "visits by team and week", url)
    log(f"open tasks in the data: {open_tasks:,}")
    return {
        name: (statistics.median(v), percentile(v, 95), len(v), queries[name])
        for name, v in results.items()
    }


_clients: dict[int, Any] = {}


def logged_in_cache(officers: list[Any], team_id: int, login: Any) -> Any:
    """An officer of `team_id` (logged in once): they filter their own team's visits."""
    if team_id not in _clients:
        email = next(e for e, t in officers if t == team_id)
        _clients[team_id] = login(email)
    return _clients[team_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--officers-per-team", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--database-url", help="a PostgreSQL URL: a fresh database is made next to it"
    )
    parser.add_argument("--keep", help="a folder to keep (and reuse) the SQLite database in")
    args = parser.parse_args(argv)

    instance = tempfile.mkdtemp(prefix="crm-bench-")
    drop = None
    if args.database_url:
        url, drop = _postgres(args.database_url)
    else:
        folder = Path(args.keep) if args.keep else Path(instance)
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
    try:
        app = make_app(url, instance)
        started = time.perf_counter()
        build(app, args)
        backend = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
        log(f"data ready in {time.perf_counter() - started:.0f} s ({backend})")
        figures = measure(app, args)
    finally:
        if drop is not None:
            from crm.extensions import db

            with app.app_context():
                db.engine.dispose()
            drop()
    full = args.visits >= 1_000_000
    over = False
    print(f"\n{'page':<28}{'p50 ms':>9}{'p95 ms':>9}{'budget':>9}{'n':>6}{'SQL':>5}")
    for name, (p50, p95, n, sql) in figures.items():
        budget = BUDGETS_MS[name]
        flag = "" if p95 <= budget else "  OVER"
        over |= p95 > budget
        shown = "-" if math.isinf(budget) else f"{budget:.0f}"
        print(f"{name:<28}{p50:>9.1f}{p95:>9.1f}{shown:>9}{n:>6}{sql:>5}{flag}")
    return 1 if over and full else 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- the same budgets in the benchmark protocol (benchmarks/run.py) ---------------------------


def _bench_busiest_projects(ctx: Any, n: int) -> list[int]:
    """The `n` projects with the most visits (the longest timelines)."""
    from sqlalchemy import func, select

    from crm.visits.models import visit_project

    with ctx.session() as s:
        return list(
            s.scalars(
                select(visit_project.c.project_id)
                .group_by(visit_project.c.project_id)
                .order_by(func.count().desc(), visit_project.c.project_id)
                .limit(n)
            )
        )


def project_timeline_page(ctx: Any) -> Any:
    ids = _bench_busiest_projects(ctx, 25) + ctx.sample_projects(25)
    return ctx.time_request(
        "project page with visit timeline",
        [f"/projects/{pid}" for pid in ids],
        role="admin",
        budget_ms=BUDGETS_MS["project page"],
        note="the 25 most visited projects and 25 spread over the table",
    )


def my_work_page(ctx: Any) -> Any:
    if not ctx.endpoints("visits.my_work"):
        return ctx.skip("my work", "no route yet")
    return ctx.time_request("my work", "/my-work", role="officer", budget_ms=BUDGETS_MS["my work"])


def visits_by_team_and_week(ctx: Any) -> list[Any]:
    from sqlalchemy import select

    from crm.accounts.models import Team

    with ctx.session() as s:
        team_ids = list(s.scalars(select(Team.id).order_by(Team.id)))
    today = date.today()
    paths = []
    for n in range(20):
        iso = (today - timedelta(days=7 * ((n * 11) % 105))).isocalendar()
        team = team_ids[(n * 7) % len(team_ids)]
        paths.append(f"/visits?week={iso.year}-W{iso.week:02d}&team={team}")
    own_week = today.isocalendar()
    budget = BUDGETS_MS["visits by team and week"]
    return [
        ctx.time_request(
            "visits by team and week (leader)", paths, role="leader", budget_ms=budget
        ),
        ctx.time_request(
            "visits of own team, this week (officer)",
            f"/visits?week={own_week.year}-W{own_week.week:02d}",
            role="officer",
            budget_ms=budget,
        ),
    ]


BENCHMARKS = [project_timeline_page, my_work_page, visits_by_team_and_week]
