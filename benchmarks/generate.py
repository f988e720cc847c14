"""Generate a benchmark database with a realistic spread.

    python benchmarks/generate.py                       # SQLite, benchmarks/out/bench.sqlite3
    python benchmarks/generate.py --database postgresql+psycopg://postgres@127.0.0.1/crm_bench
    python benchmarks/generate.py --scale 0.02          # 2,000 projects, 20,000 visits ...

Full size: 300 users in 30 teams, 20,000 companies, 100,000 projects across the 22 chains
and the zones (amounts log-normal around 2亿元, a few percent key projects, stages thinning
out along the pipeline with plausible dates), their stage history, 1,000,000 visits (each
linked to one to three projects and one to three of our participants) and 100,000
follow-up tasks. Projects and companies come from `crm.reference.demo.generate` (the demo
data's generator); visits, links and tasks are written in bulk (executemany on SQLite,
COPY on PostgreSQL). The database is built by the migrations, like a real one.

Budget: at most 3 minutes on SQLite at full size.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SQLITE = ROOT / "benchmarks" / "out" / "bench.sqlite3"
FULL = {
    "teams": 30,
    "users": 300,
    "companies": 20_000,
    "projects": 100_000,
    "visits": 1_000_000,
    "tasks": 100_000,
}
GENERATION_BUDGET_S = 180
BENCH_PASSWORD = "changsha-demo-2026"  # the demo password: every generated user has it

VISIT_TYPES = ("company_visit", "inbound_visit", "online", "event")
PURPOSES = (
    "拜访企业总部，介绍园区产业链配套",
    "春节走访，了解企业扩产计划",
    "“4+N”区域招商推介会后跟进",
    "陪同企业考察用地",
    "签约仪式前的条款沟通",
    "了解企业投资意向与需求",
)
OUTCOMES = (
    "企业有明确投资意向",
    "需进一步沟通用地和配套政策",
    "企业暂缓决策",
    "已提交项目建议书",
    "约定下次实地考察",
)
NEXT_STEPS = ("两周内寄送用地方案", "安排领导会见", "补充政策测算", "邀请来园区考察", "")


def build_app(database_url: str) -> Any:
    """The app bound to `database_url`, its instance folder in a temporary directory."""
    from crm import create_app

    os.environ.setdefault("CRM_INSTANCE_PATH", tempfile.mkdtemp(prefix="crm-bench-"))
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "benchmark-secret-key",
            "SERVER_NAME": "localhost",
        }
    )


def fresh_database(database_url: str) -> None:
    """Start from nothing: delete the SQLite file, or drop and create the PostgreSQL
    database (connecting to the server's `postgres` database to do so)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": url.database},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def _step(name: str, started: float, timings: dict[str, float]) -> float:
    now = time.perf_counter()
    timings[name] = now - started
    print(f"  {name:<32} {now - started:7.1f} s", flush=True)
    return now


def teams_and_users(session: Any, n_teams: int, n_users: int, rng: random.Random) -> None:
    """The demo teams and users, then generated ones up to the counts, in bulk (one
    password hash for all: hashing 300 passwords would take longer than everything else)."""
    from sqlalchemy import func, insert, select

    from crm.accounts.models import Team, User
    from crm.enums import Role
    from crm.reference.demo import ensure_teams_and_users
    from crm.reference.models import Zone
    from crm.security import hash_password

    ensure_teams_and_users(session)
    session.flush()
    zones = list(session.scalars(select(Zone.id).order_by(Zone.id)))
    have = session.scalar(select(func.count()).select_from(Team)) or 0
    if n_teams > have:
        session.execute(
            insert(Team),
            [
                {
                    "code": f"bench-team-{i:02d}",
                    "name_zh": f"招商{i}组",
                    "name_en": f"Investment team {i}",
                    "zone_id": zones[i % len(zones)],
                    "active": True,
                    "created_at": datetime.now(UTC),
                }
                for i in range(have + 1, n_teams + 1)
            ],
        )
    team_ids = list(session.scalars(select(Team.id).order_by(Team.id)))
    have_users = session.scalar(select(func.count()).select_from(User)) or 0
    password = hash_password(BENCH_PASSWORD)
    rows = []
    leads_made: set[int] = set(
        session.scalars(select(User.team_id).where(User.role == Role.LEAD)).all()
    )
    for i in range(have_users + 1, n_users + 1):
        team_id = team_ids[i % len(team_ids)]
        if i % 60 == 0:
            role, team_id = Role.LEADER, None
        elif team_id not in leads_made:
            role = Role.LEAD
            leads_made.add(team_id)
        else:
            role = Role.OFFICER
        rows.append(
            {
                "email": f"bench.user{i:03d}@example.com",
                "name": f"专员{i:03d}",
                "password_hash": password,
                "role": role,
                "team_id": team_id,
                "active": True,
                "session_version": 1,
                "totp_enabled": False,
                "recovery_codes": [],
                "created_at": datetime.now(UTC),
            }
        )
    if rows:
        session.execute(insert(User), rows)
    session.flush()


def stage_history(session: Any) -> int:
    """One stage_change row per stage each project reached, dated as the project says."""
    from sqlalchemy import select

    from crm.enums import ALL_STAGES, MAIN_STAGES
    from crm.pipeline.models import Project

    columns = [getattr(Project, f"{s.value}_on") for s in ALL_STAGES]
    rows: list[tuple[Any, ...]] = []
    now = datetime.now(UTC)
    for project_id, owner_id, *dates in session.execute(
        select(Project.id, Project.owner_id, *columns).order_by(Project.id)
    ):
        previous: str | None = None
        for stage, on in zip(ALL_STAGES, dates, strict=True):
            if on is not None:
                rows.append((project_id, previous, stage.value, on, owner_id, now))
                if stage in MAIN_STAGES:
                    previous = stage.value
    session.commit()
    with session.get_bind().connect() as connection:
        raw = connection.connection.dbapi_connection
        postgres = connection.dialect.name == "postgresql"
        if not postgres:
            raw.cursor().execute("BEGIN")  # the driver is in autocommit mode (crm.db)
        columns_out = ("project_id", "from_stage", "to_stage", "on", "user_id", "at")
        _bulk(raw, postgres, "stage_change", columns_out, rows)
        raw.commit()
    return len(rows)


class _Days:
    """Day numbers to the values the driver takes, computed once per day: ISO text for
    SQLite (as crm.db stores it), date and aware datetime objects for PostgreSQL."""

    def __init__(self, as_text: bool) -> None:
        self.as_text = as_text
        self._days: dict[int, Any] = {}
        self._times: dict[tuple[int, int], Any] = {}

    def day(self, ordinal: int) -> Any:
        value = self._days.get(ordinal)
        if value is None:
            value = date.fromordinal(ordinal)
            value = value.isoformat() if self.as_text else value
            self._days[ordinal] = value
        return value

    def time(self, ordinal: int, hour: int) -> Any:
        key = (ordinal, hour)
        value = self._times.get(key)
        if value is None:
            if self.as_text:
                value = f"{date.fromordinal(ordinal).isoformat()} {hour:02d}:00:00.000000"
            else:
                value = datetime.combine(date.fromordinal(ordinal), datetime.min.time(), UTC)
                value += timedelta(hours=hour)
            self._times[key] = value
        return value


def _visit_rows(
    projects: list[tuple[int, int, int, date]],
    members: dict[int, list[int]],
    regions: list[int],
    n_visits: int,
    first_id: int,
    today: date,
    rng: random.Random,
    days: _Days,
) -> Iterator[tuple[tuple[Any, ...], list[int], list[int], int]]:
    """(visit row, its project ids, its participant ids, its day number), one at a time.

    Written for speed (a million rows): one `random()` per choice, dates cached per day.
    """
    r = rng.random
    # Busy projects are visited far more often than quiet ones (1/(1 + i % 50) weights).
    weights = [1.0 / (1 + (i % 50)) for i in range(len(projects))]
    picks = rng.choices(range(len(projects)), weights=weights, k=n_visits)
    cities = ("深圳", "上海", "北京", "广州", "杭州", "苏州", "成都", "长沙")
    fallback = [next(iter(members.values()))[0]]
    today_n = today.toordinal()
    n_projects = len(projects)
    for n, index in enumerate(picks):
        project_id, company_id, team_id, lead_on = projects[index]
        lead_n = lead_on.toordinal()
        on = lead_n + int(r() * (max(1, today_n - lead_n) + 1))
        team = members.get(team_id) or fallback
        size = len(team)
        author = team[int(r() * size)]
        people = {author, team[int(r() * size)]} if r() < 0.6 else {author}
        linked = [project_id]
        if r() < 0.15:
            other = projects[int(r() * n_projects)][0]
            if other != project_id:
                linked.append(other)
        row = (
            first_id + n,
            days.day(on),
            VISIT_TYPES[int(r() * 4)],
            cities[int(r() * 8)],
            regions[int(r() * len(regions))] if regions else None,
            company_id,
            author,
            team_id,
            PURPOSES[int(r() * len(PURPOSES))],
            f"投资意向约{1 + int(r() * 50)}亿元",
            round(rng.lognormvariate(9.5, 1.0), 2) if r() < 0.4 else None,
            20 + int(r() * 580) if r() < 0.2 else None,
            OUTCOMES[int(r() * len(OUTCOMES))],
            NEXT_STEPS[int(r() * len(NEXT_STEPS))] or None,
            days.time(on, 1 + int(r() * 12)),
        )
        yield row, linked, sorted(people), on


VISIT_COLUMNS = (
    "id",
    "on",
    "type",
    "city",
    "region_id",
    "company_id",
    "author_id",
    "team_id",
    "purpose",
    "learned",
    "intent_amount",
    "land_mu",
    "outcome",
    "next_steps",
    "created_at",
)


def visits_and_tasks(
    connection: Any, session: Any, n_visits: int, n_tasks: int, rng: random.Random
) -> tuple[int, int, int, int]:
    """Insert visits, their project links and participants, and follow-up tasks."""
    from sqlalchemy import func, select

    from crm.accounts.models import User
    from crm.db import advance_id_sequences
    from crm.pipeline.models import Project
    from crm.reference.models import Region
    from crm.visits.models import Visit

    today = date.today()
    projects = [
        (pid, cid, tid, lead_on or today - timedelta(days=365))
        for pid, cid, tid, lead_on in session.execute(
            select(Project.id, Project.company_id, Project.team_id, Project.lead_on)
        )
    ]
    members: dict[int, list[int]] = {}
    for uid, tid in session.execute(select(User.id, User.team_id).where(User.team_id.isnot(None))):
        members.setdefault(tid, []).append(uid)
    regions = list(session.scalars(select(Region.id)))
    first_id = (session.scalar(select(func.max(Visit.id))) or 0) + 1
    session.commit()  # release the session's connection before the raw bulk load

    raw = connection.connection.dbapi_connection
    postgres = connection.dialect.name == "postgresql"
    links = participants = 0
    batch: list[tuple[Any, ...]] = []
    link_batch: list[tuple[int, int]] = []
    part_batch: list[tuple[int, int]] = []
    task_rows: list[tuple[Any, ...]] = []
    task_every = max(1, n_visits // max(1, n_tasks)) if n_tasks else 0
    if not postgres:
        raw.cursor().execute("BEGIN")  # the driver is in autocommit mode (crm.db)

    def flush() -> None:
        nonlocal batch, link_batch, part_batch
        _bulk(raw, postgres, "visit", VISIT_COLUMNS, batch)
        _bulk(raw, postgres, "visit_project", ("visit_id", "project_id"), link_batch)
        _bulk(raw, postgres, "visit_participant", ("visit_id", "user_id"), part_batch)
        batch, link_batch, part_batch = [], [], []

    days = _Days(as_text=not postgres)
    today_n = date.today().toordinal()
    r = rng.random
    for n, (row, linked, people, on) in enumerate(
        _visit_rows(projects, members, regions, n_visits, first_id, date.today(), rng, days)
    ):
        batch.append(row)
        visit_id = row[0]
        link_batch += [(visit_id, p) for p in linked]
        part_batch += [(visit_id, u) for u in people]
        links += len(linked)
        participants += len(people)
        if task_every and n % task_every == 0 and len(task_rows) < n_tasks:
            due = on + 3 + int(r() * 28)
            done = days.time(min(due, today_n), 17) if due < today_n - 10 and r() < 0.8 else None
            task_rows.append(
                (
                    row[13] or "跟进",
                    row[6],
                    row[7],
                    linked[0],
                    visit_id,
                    days.day(due),
                    done,
                    row[6],
                    days.time(on, 18),
                )
            )
        if len(batch) >= 50_000:
            flush()
    flush()
    _bulk(
        raw,
        postgres,
        "task",
        (
            "title",
            "owner_id",
            "team_id",
            "project_id",
            "visit_id",
            "due_on",
            "done_at",
            "created_by_id",
            "created_at",
        ),
        task_rows,
    )
    raw.commit()
    advance_id_sequences(connection, [Visit.__table__])  # the visits have explicit ids
    connection.commit()
    return n_visits, links, participants, len(task_rows)


@contextmanager
def indexes_dropped(connection: Any, tables: tuple[str, ...]) -> Iterator[None]:
    """Load without the secondary indexes, then build them once: a million inserts in
    random key order into live indexes is several times slower than one sort."""
    from crm.extensions import db

    indexes = [i for t in tables for i in db.metadata.tables[t].indexes]
    for index in indexes:
        index.drop(connection)
    connection.commit()
    if connection.dialect.name == "sqlite":  # 256 MB of page cache for the load
        connection.connection.dbapi_connection.execute("PRAGMA cache_size = -262144")
    yield
    for index in indexes:
        index.create(connection)
    connection.commit()


def _bulk(raw: Any, postgres: bool, table: str, columns: tuple[str, ...], rows: list) -> None:
    if not rows:
        return
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = raw.cursor()
    if postgres:
        with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", rows)
    cursor.close()


def _store_like_crm_db() -> None:
    """Give the sqlite3 driver the text forms crm.db stores on SQLite: datetimes as naive
    UTC, dates as ISO (the bulk load bypasses SQLAlchemy's type processing)."""
    import sqlite3

    sqlite3.register_adapter(datetime, lambda v: v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
    sqlite3.register_adapter(date, lambda v: v.isoformat())


def reset_sequences(connection: Any) -> None:
    """PostgreSQL: move every id sequence past the ids the bulk load wrote itself (COPY and
    the demo generator give explicit ids), so the app's inserts get fresh ones."""
    from sqlalchemy import text

    if connection.dialect.name != "postgresql":
        return
    tables = connection.execute(
        text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'id' AND column_default LIKE 'nextval(%'"
        )
    ).scalars()
    for table in list(tables):
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)'
            )
        )
    connection.commit()


def finish(connection: Any) -> None:
    """Last activity from the visits, the id sequences, and fresh planner statistics."""
    from sqlalchemy import text

    reset_sequences(connection)

    connection.execute(
        text(
            "UPDATE project SET last_activity_at = (SELECT MAX(v.created_at) FROM visit v "
            "JOIN visit_project vp ON vp.visit_id = v.id WHERE vp.project_id = project.id)"
        )
    )
    connection.commit()
    from sqlalchemy.orm import Session

    from crm.pipeline.totals import compact_totals

    with Session(bind=connection) as session:
        compact_totals(session)  # one row per (team, stage, key flag) after the bulk load
        session.commit()
    if connection.dialect.name == "postgresql":
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    else:
        connection.execute(text("ANALYZE"))
        connection.commit()


def generate(database_url: str, scale: float = 1.0, seed: int = 2026) -> dict[str, float]:
    """Build the benchmark database at `database_url` from nothing; return step timings."""
    from flask_migrate import upgrade

    from crm.extensions import db
    from crm.reference import demo
    from crm.reference.seed import load_reference_data

    _store_like_crm_db()
    counts = {k: max(1, int(v * scale)) for k, v in FULL.items()}
    counts["teams"] = max(5, min(FULL["teams"], counts["teams"]))
    counts["users"] = max(counts["teams"] * 3, counts["users"])
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    print(f"Generating into {database_url} ({counts})", flush=True)
    begun = started = time.perf_counter()
    fresh_database(database_url)
    app = build_app(database_url)
    with app.app_context():
        upgrade()
        load_reference_data(db.session, ROOT / "seed")
        db.session.commit()
        started = _step("schema and reference data", started, timings)
        teams_and_users(db.session, counts["teams"], counts["users"], rng)
        db.session.commit()
        started = _step("teams and users", started, timings)
        demo.load_real_projects(db.session, ROOT / "seed", date.today())
        demo.generate(
            db.session,
            projects=counts["projects"],
            companies=counts["companies"],
            rng=rng,
            today=date.today(),
        )
        db.session.commit()
        started = _step("companies and projects", started, timings)
        changes = stage_history(db.session)
        db.session.commit()
        started = _step(f"stage history ({changes:,} rows)", started, timings)
        bulk_tables = ("visit", "visit_project", "visit_participant", "task")
        with db.engine.connect() as connection, indexes_dropped(connection, bulk_tables):
            visits, links, people, tasks = visits_and_tasks(
                connection, db.session, counts["visits"], counts["tasks"], rng
            )
        started = _step(
            f"visits ({visits:,}; {links:,} links, {people:,} participants, {tasks:,} tasks)",
            started,
            timings,
        )
        with db.engine.connect() as connection:
            finish(connection)
        started = _step("last activity, statistics", started, timings)
        db.session.remove()
        db.engine.dispose()
    timings["total"] = time.perf_counter() - begun
    verdict = "within" if timings["total"] <= GENERATION_BUDGET_S else "OVER"
    if "sqlite" in database_url and scale == 1:
        note = f"{verdict} the {GENERATION_BUDGET_S} s budget for SQLite"
    else:
        note = f"the {GENERATION_BUDGET_S} s budget is for SQLite at full size"
    print(f"Generated in {timings['total']:.1f} s ({note})", flush=True)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        default=f"sqlite:///{DEFAULT_SQLITE}",
        help="SQLAlchemy URL (SQLite file or PostgreSQL database; it is recreated)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    timings = generate(args.database, args.scale, args.seed)
    over = "sqlite" in args.database and args.scale == 1 and timings["total"] > GENERATION_BUDGET_S
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
