"""Test fixtures: one database per run (SQLite file, or a PostgreSQL database created and
dropped for the run when TEST_DATABASE_URL is set), built by the migrations, with reference
data loaded once; each test runs in a transaction that is rolled back."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
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
CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def _postgres_database(base_url: str) -> tuple[str, Any]:
    """Create a database of our own next to TEST_DATABASE_URL's; return its URL and a dropper."""
    url = make_url(base_url)
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if base and base.startswith("postgresql"):
        url, drop = _postgres_database(base)
        try:
            yield url
        finally:
            drop()
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def make_app(database_url: str, instance: Path, **extra: Any) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "CRM_SEED_DIR": str(ROOT / "seed"),
        "CRM_UPLOAD_DIR": str(instance / "uploads"),
        "SERVER_NAME": "localhost",
    }
    config.update(extra)
    os.environ["CRM_INSTANCE_PATH"] = str(instance)
    return create_app(config)


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from crm.reference.seed import load_reference_data

    instance = tmp_path_factory.mktemp("instance")
    application = make_app(database_url, instance)
    with application.app_context():
        upgrade()
        load_reference_data(_db.session, ROOT / "seed")
        _db.session.commit()
        _db.session.remove()
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
