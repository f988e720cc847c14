"""The benchmark protocol: what a benchmark receives, what it returns, and the helpers that
time a page, an API call or any function the same way everywhere.

A benchmark module is `benchmarks/bench_<anything>.py` exposing

    BENCHMARKS = [function, ...]

where each function takes a `Context` and returns a `Result`, a list of them, or `None`
(nothing to measure in this build, e.g. its route does not exist yet). `ctx.skip(name,
why)` makes a `Result` that says so in the table. See docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

_TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


@dataclass
class Result:
    """One line of the table: timings of repeated runs against a budget."""

    name: str
    timings_ms: list[float] = field(default_factory=list)
    budget_ms: float | None = None  # on p95 (for a job run once or a few times: on the max)
    queries: float | None = None  # SQL statements per run
    peak_mb: float | None = None  # peak Python memory of one run (tracemalloc)
    budget_mb: float | None = None
    sql_ms: float | None = None  # p50 of the run's SQL replayed alone on a raw connection
    # CPU time of this process per run (leaves out waiting for a core on a busy machine,
    # and the database server's own work on PostgreSQL)
    cpu_ms: list[float] = field(default_factory=list)
    note: str = ""
    skipped: str | None = None

    @property
    def p50(self) -> float | None:
        return statistics.median(self.timings_ms) if self.timings_ms else None

    @property
    def p95(self) -> float | None:
        if not self.timings_ms:
            return None
        ordered = sorted(self.timings_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def cpu_p95(self) -> float | None:
        if not self.cpu_ms:
            return None
        ordered = sorted(self.cpu_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def ratio(self) -> float | None:
        if self.sql_ms and self.p50:
            return self.p50 / self.sql_ms
        return None

    @property
    def passed(self) -> bool | None:
        if self.skipped is not None:
            return None
        ok = True
        if self.budget_ms is not None and self.p95 is not None:
            ok = ok and self.p95 <= self.budget_ms
        if self.budget_mb is not None and self.peak_mb is not None:
            ok = ok and self.peak_mb <= self.budget_mb
        return ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": len(self.timings_ms),
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "budget_ms": self.budget_ms,
            "queries": self.queries,
            "peak_mb": self.peak_mb,
            "budget_mb": self.budget_mb,
            "sql_ms": self.sql_ms,
            "ratio": self.ratio,
            "cpu_p95_ms": self.cpu_p95,
            "passed": self.passed,
            "note": self.note,
            "skipped": self.skipped,
        }


class StatementLog:
    """Records the SQL statements (and their parameters) an engine executes."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        self.statements.append((statement, params))

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


@dataclass
class Context:
    """What every benchmark gets: the app on the benchmark database, logged-in clients, the
    sample records, and the timing helpers."""

    app: Any
    database_url: str
    repeat: int = 50
    warmup: int = 3
    _clients: dict[str, Any] = field(default_factory=dict)

    # --- facts about the database --------------------------------------------------------

    @property
    def dialect(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).get_backend_name()

    @contextmanager
    def session(self) -> Iterator[Any]:
        """The app's database session inside an app context (rolled back afterwards)."""
        from crm.extensions import db

        with self.app.app_context():
            try:
                yield db.session
            finally:
                db.session.rollback()

    def endpoints(self, *patterns: str) -> list[str]:
        """Endpoints of the app matching any of the fnmatch patterns, sorted."""
        import fnmatch

        names = {rule.endpoint for rule in self.app.url_map.iter_rules()}
        return sorted({n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)})

    def url_for(self, endpoint: str, **values: Any) -> str:
        with self.app.test_request_context():
            from flask import url_for

            return url_for(endpoint, **values)

    def email(self, role: str) -> str:
        """A user of that role (the demo users are in every benchmark database)."""
        return {
            "admin": "admin@example.com",
            "leader": "leader@example.com",
            "lead": "lead.wangcheng@example.com",
            "officer": "officer.wangcheng@example.com",
        }[role]

    def sample_projects(self, n: int = 50, team: str | None = None) -> list[int]:
        """`n` project ids spread over the table, the most visited project first."""
        from sqlalchemy import func, select

        from crm.accounts.models import Team
        from crm.pipeline.models import Project
        from crm.visits.models import visit_project

        with self.session() as s:
            stmt = select(Project.id).where(Project.deleted_at.is_(None))
            if team:
                stmt = stmt.join(Team, Team.id == Project.team_id).where(Team.code == team)
            ids = list(s.scalars(stmt.order_by(Project.id)))
            busiest = s.scalar(
                select(visit_project.c.project_id)
                .where(visit_project.c.project_id.in_(stmt.scalar_subquery()))
                .group_by(visit_project.c.project_id)
                .order_by(func.count().desc())
                .limit(1)
            )
        step = max(1, len(ids) // n)
        chosen = ids[::step][: n - 1]
        return ([busiest] if busiest else []) + chosen

    # --- clients ---------------------------------------------------------------------------

    def client(self, role: str = "admin") -> Any:
        """A test client logged in as a demo user of `role` (kept for the whole run)."""
        if role not in self._clients:
            from crm.reference.demo import DEMO_PASSWORD

            client = self.app.test_client()
            page = client.get("/login").get_data(as_text=True)
            import re

            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
            response = client.post(
                "/login",
                data={
                    "email": self.email(role),
                    "password": DEMO_PASSWORD,
                    "csrf_token": token.group(1) if token else "",
                },
            )
            assert response.status_code == 302, f"login as {role}: {response.status_code}"
            self._clients[role] = client
        return self._clients[role]

    def api_headers(self, role: str = "admin") -> dict[str, str]:
        from crm.accounts.services import find_user_by_email, issue_token
        from crm.extensions import db

        key = f"token:{role}"
        if key not in self._clients:
            with self.app.app_context():
                user = find_user_by_email(db.session, self.email(role))
                issued = issue_token(db.session, user, "benchmark")
                db.session.commit()
                self._clients[key] = {"Authorization": f"Bearer {issued.secret}"}
        return self._clients[key]

    # --- measuring -------------------------------------------------------------------------

    def skip(self, name: str, why: str) -> Result:
        return Result(name=name, skipped=why)

    def time_request(
        self,
        name: str,
        paths: str | list[str],
        *,
        role: str = "admin",
        budget_ms: float | None = None,
        api: bool = False,
        method: str = "GET",
        repeat: int | None = None,
        note: str = "",
        expect: int = 200,
    ) -> Result:
        """Time a web page or API call (cycling through `paths`), with its SQL statement
        count, peak memory and the cost of its bare SQL."""
        from crm.extensions import db

        paths = [paths] if isinstance(paths, str) else list(paths)
        client = self.client(role) if not api else self.app.test_client()
        headers = self.api_headers(role) if api else {}
        repeat = repeat or self.repeat

        def call(path: str) -> Any:
            response = client.open(path, method=method, headers=headers)
            if response.status_code != expect:
                raise AssertionError(f"{name}: {method} {path} answered {response.status_code}")
            return response

        started = time.perf_counter()
        for i in range(self.warmup):
            call(paths[i % len(paths)])
        if (time.perf_counter() - started) / max(1, self.warmup) > 0.3:
            repeat = min(repeat, 10)  # a slow page: fewer runs, the verdict is clear anyway
        timings, cpu = [], []
        for i in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            call(paths[i % len(paths)])
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        with self.app.app_context():
            engine = db.engine
        with StatementLog(engine) as log:
            call(paths[0])
        queries = len(log.statements)
        sql_ms = self.replay(log.statements, repeat=min(repeat, 10))
        tracemalloc.start()
        call(paths[0])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return Result(
            name=name,
            timings_ms=timings,
            budget_ms=budget_ms,
            queries=queries,
            peak_mb=peak / 2**20,
            sql_ms=sql_ms,
            cpu_ms=cpu,
            note=note,
        )

    def time_call(
        self,
        name: str,
        fn: Callable[[Any], Any],
        *,
        budget_ms: float | None = None,
        budget_mb: float | None = None,
        repeat: int = 3,
        note: str = "",
    ) -> Result:
        """Time `fn(session)` in an app context (a job, a report, a check), rolled back
        after each run; report SQL statements and the peak memory of one more, untimed run
        (tracing every allocation slows Python code down by half or more)."""
        from crm.extensions import db

        timings, cpu = [], []
        statements = 0
        peak = 0
        for i in range(repeat + 1):
            with self.app.app_context():
                traced = i == repeat
                log = StatementLog(db.engine)
                if traced:
                    tracemalloc.start()
                with log:
                    started, started_cpu = time.perf_counter(), time.process_time()
                    try:
                        fn(db.session)
                    finally:
                        if not traced:
                            timings.append((time.perf_counter() - started) * 1000)
                            cpu.append((time.process_time() - started_cpu) * 1000)
                        db.session.rollback()
                if traced:
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                statements = len(log.statements)
        return Result(
            name=name,
            timings_ms=timings,
            cpu_ms=cpu,
            budget_ms=budget_ms,
            budget_mb=budget_mb,
            queries=statements,
            peak_mb=peak / 2**20,
            note=note,
        )

    def replay(self, statements: list[tuple[str, Any]], repeat: int = 20) -> float | None:
        """p50 (ms) of running `statements` directly on a raw DB-API connection: the floor a
        page cannot go below, to compare the page's time with."""
        from crm.extensions import db

        if not statements:
            return None
        with self.app.app_context():
            raw = db.engine.raw_connection()
        try:
            timings = []
            for _ in range(repeat):
                cursor = raw.cursor()
                started = time.perf_counter()
                for statement, params in statements:
                    if statement.split(None, 1)[0].upper() in _TRANSACTION_CONTROL:
                        continue
                    cursor.execute(statement, params)
                    if cursor.description is not None:
                        cursor.fetchall()
                timings.append((time.perf_counter() - started) * 1000)
                cursor.close()
                raw.rollback()
            return statistics.median(timings)
        finally:
            raw.close()
