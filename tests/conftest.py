"""Test fixtures: one database per run (SQLite file, or a PostgreSQL database created and
dropped for the run when TEST_DATABASE_URL is set), built by the migrations, with reference
data loaded once; each test runs in a transaction that is rolled back.

The migrated database is built once per run and copied for each xdist worker and for each
test that needs a committed database of its own (`new_database`): a SQLite file copy, or
PostgreSQL's `CREATE DATABASE ... TEMPLATE` (the template is dropped when the run ends)."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from crm import create_app
from crm.extensions import db as _db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"
TEST_HASH_METHOD = "pbkdf2:sha256:1000"
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def _postgres_database(base_url: str, template: str | None = None) -> tuple[str, Any]:
    """Create a database of our own next to TEST_DATABASE_URL's (a copy of `template` when
    given); return its URL and a dropper."""
    url = make_url(base_url)
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))

    def drop() -> None:
        _drop_postgres_database(admin, name)
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def _drop_postgres_database(admin: Any, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


# --- databases built once per run ----------------------------------------------------------


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every xdist worker of this run (the run's base temp folder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold a lock named `name` shared by the workers of this run; yield the run folder."""
    folder = run_folder(tmp_path_factory)
    with (folder / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield folder


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[str, Path], None]
) -> Path:
    """The SQLite file `name`, built by `build(url, instance_folder)` once per run: the first
    worker to ask builds it, the others wait for it. Copy it (`copy_sqlite`) to write to it."""
    with _run_lock(tmp_path_factory, name) as folder:
        path = folder / name
        if not path.exists():
            workdir = folder / f"{name}.build"
            shutil.rmtree(workdir, ignore_errors=True)  # what a failed attempt left
            workdir.mkdir()
            with _instance_path_kept():
                build(f"sqlite:///{workdir / name}", workdir / "instance")
            copy_sqlite(workdir / name, path)  # one self-contained file, the WAL included
    return path


@contextmanager
def _instance_path_kept() -> Iterator[None]:
    """Restore CRM_INSTANCE_PATH after building a database (make_app sets it)."""
    saved = os.environ.get("CRM_INSTANCE_PATH")
    try:
        yield
    finally:
        if saved is not None:
            os.environ["CRM_INSTANCE_PATH"] = saved


def copy_sqlite(source: Path, target: Path) -> str:
    """Copy a SQLite database with SQLite's backup API; return the copy's URL."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def migrate_and_seed(url: str, instance: Path) -> None:
    """Build the schema with the migrations and load the reference data at `url`."""
    from flask_migrate import upgrade

    from crm.reference.seed import load_reference_data

    application = make_app(url, instance)
    with application.app_context():
        upgrade()
        load_reference_data(_db.session, ROOT / "seed")
        _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()


PG_TEMPLATE_FILE = "postgresql-template"


def _postgres_template(tmp_path_factory: pytest.TempPathFactory, base_url: str) -> str:
    """The name of this run's migrated PostgreSQL database, to copy from (built once)."""
    with _run_lock(tmp_path_factory, PG_TEMPLATE_FILE) as folder:
        known = folder / PG_TEMPLATE_FILE
        if known.exists():
            return known.read_text()
        url = make_url(base_url)
        name = f"crm_template_{uuid.uuid4().hex[:10]}"  # dropped in pytest_sessionfinish
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            with _instance_path_kept():
                template_url = url.set(database=name).render_as_string(hide_password=False)
                migrate_and_seed(template_url, folder / "template-instance")
        except BaseException:
            _drop_postgres_database(admin, name)
            raise
        finally:
            admin.dispose()
        known.write_text(name)
        return name


def new_database(
    tmp_path_factory: pytest.TempPathFactory, folder: Path
) -> tuple[str, Callable[[], None]]:
    """A database of our own with the schema and the reference data: a copy of the one built
    once per run. SQLite: a file in `folder`; PostgreSQL (TEST_DATABASE_URL): a database
    next to TEST_DATABASE_URL's. Returns its URL and a function that drops it."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base and base.startswith("postgresql"):
        return _postgres_database(base, template=_postgres_template(tmp_path_factory, base))
    template = built_once(tmp_path_factory, "migrated.sqlite3", migrate_and_seed)
    return copy_sqlite(template, folder / "test.sqlite3"), lambda: None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop this run's PostgreSQL template (in the process that started the run)."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if hasattr(session.config, "workerinput") or factory is None:
        return
    known = factory.getbasetemp() / PG_TEMPLATE_FILE
    base = os.environ.get("TEST_DATABASE_URL")
    if known.exists() and base:
        admin = create_engine(make_url(base), isolation_level="AUTOCOMMIT")
        try:
            _drop_postgres_database(admin, known.read_text())
        finally:
            admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = new_database(tmp_path_factory, tmp_path_factory.mktemp("db"))
    try:
        yield url
    finally:
        drop()


def make_app(database_url: str, instance: Path, **extra: Any) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "CRM_SEED_DIR": str(ROOT / "seed"),
        "CRM_UPLOAD_DIR": str(instance / "uploads"),
        "SERVER_NAME": "localhost",
        # Production hashes with scrypt (tests/accounts/test_login.py checks it); a cheap
        # method here saves a deliberately slow hash on every user and every login.
        "PASSWORD_HASH_METHOD": TEST_HASH_METHOD,
    }
    config.update(extra)
    os.environ["CRM_INSTANCE_PATH"] = str(instance)
    return create_app(config)


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    application = make_app(database_url, instance)
    yield application
    with application.app_context():
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def db_session(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Run the test inside a transaction rolled back at the end (if the test uses the app)."""
    if "app" not in request.fixturenames:
        yield None
        return
    application: Flask = request.getfixturevalue("app")
    with application.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        _db.session = session
        try:
            yield session
        finally:
            session.remove()
            _db.session = original
            if transaction.is_active:
                transaction.rollback()
            connection.close()


class Client(FlaskClient):
    """A test client that adds the CSRF token to form posts, as a browser would."""

    _token: str | None = None

    def csrf_token(self) -> str:
        if self._token is None:
            page = self.get("/login", follow_redirects=True).get_data(as_text=True)
            match = CSRF_RE.search(page)
            assert match, "no CSRF token on the login page"
            self._token = match.group(1) or match.group(2)
        return self._token

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # The test's app context is reused by each request (Flask reuses a pushed one), so
        # clear what a real request would start without: `g` (Flask-Login's cached user,
        # Flask-WTF's cached token) and the session's identity map.
        from flask import g

        from crm.extensions import db as database

        if g:
            vars(g._get_current_object()).clear()
            database.session.flush()
            database.session.expire_all()
        response = super().open(*args, **kwargs)
        # Werkzeug's test client encodes a multipart body over 500 KB into a temporary file
        # it never closes: close each request body once its response is here.
        for answer in [*getattr(response, "history", ()), response]:
            body = answer.request.environ.get("wsgi.input")
            if body is not None:
                body.close()
        return response

    def form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


@pytest.fixture
def client(app: Flask) -> Client:
    app.test_client_class = Client
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def make_client(app: Flask) -> Any:
    def factory() -> Client:
        app.test_client_class = Client
        return app.test_client()  # type: ignore[return-value]

    return factory


def login(client: Client, email: str, password: str = PASSWORD) -> Any:
    client._token = None
    response = client.form("/login", {"email": email, "password": password})
    client._token = None  # a new session at login: fetch a fresh token next time
    return response


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()
