"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright against a
live server on 127.0.0.1 with its own SQLite database (migrations, reference data, demo
data), started once per run.

- Every test gets a `page` that records every request and console message; after the
  test, a request to any other host, a console error (CSP violations included), an
  uncaught script error or a 5xx answer fails it. A failing test leaves a screenshot in
  test-artifacts/.
- `@pytest.mark.needs_feature("reports.*weekly*|reports.*download*")` skips a test, with
  the reason, until an endpoint matching one of the patterns is in the URL map: tests of
  features still being built run by themselves once they land.
- They run once per CI submission: skipped when TEST_DATABASE_URL is set (the PostgreSQL
  run), and when Chromium or Playwright is missing.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
PASSWORD = "changsha-demo-2026"  # the demo data's password (crm.reference.demo)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_feature(*patterns): skip until an endpoint matching one of the fnmatch "
        "patterns (alternatives separated by |) is in the app's URL map",
    )


def _skip_reason() -> str | None:
    if os.environ.get("TEST_DATABASE_URL"):
        return "browser tests run once, in the SQLite run (TEST_DATABASE_URL is set)"
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        return f"Chromium not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    reason = _skip_reason()
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# --- the live server --------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    app: Any
    _n: int = 0

    def endpoints(self) -> set[str]:
        return {rule.endpoint for rule in self.app.url_map.iter_rules()}

    def matching(self, patterns: str) -> list[str]:
        """Endpoints matching any of the `|`-separated fnmatch patterns, sorted."""
        found = set()
        for pattern in patterns.split("|"):
            found |= {e for e in self.endpoints() if fnmatch.fnmatchcase(e, pattern.strip())}
        return sorted(found)

    def path_for(self, endpoint: str, **values: Any) -> str:
        with self.app.test_request_context():
            from flask import url_for

            return url_for(endpoint, **values)

    def query(self, fn: Any) -> Any:
        """Run `fn(session)` against the live database and commit."""
        from crm.extensions import db

        with self.app.app_context():
            result = fn(db.session)
            db.session.commit()
            return result

    def new_user(self, role: str, team: str | None = None) -> str:
        """Create a user with the demo password; return the email."""
        from crm.accounts import services
        from crm.enums import Role

        self._n += 1
        email = f"browser{self._n}.{role}@example.com"

        def create(session: Any) -> None:
            services.create_user(
                session, email=email, password=PASSWORD, role=Role(role), team_code=team
            )

        self.query(create)
        return email


def _live_app(url: str, instance: Path) -> Any:
    from tests.conftest import make_app

    return make_app(url, instance, TESTING=False, SERVER_NAME=None)


def _build_demo_database(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    from crm.extensions import db
    from crm.reference.demo import load_demo
    from crm.reference.seed import load_reference_data

    app = _live_app(url, instance)
    with app.app_context():
        upgrade()
        load_reference_data(db.session, ROOT / "seed")
        load_demo(db.session, ROOT / "seed", generated=80)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from werkzeug.serving import make_server

    from crm.extensions import db
    from tests.conftest import built_once, copy_sqlite

    instance = tmp_path_factory.mktemp("browser-instance")
    # Built once per run, copied for each xdist worker that runs browser tests.
    demo = built_once(tmp_path_factory, "browser.sqlite3", _build_demo_database)
    app = _live_app(copy_sqlite(demo, instance / "browser.sqlite3"), instance)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _needs_feature(request: pytest.FixtureRequest) -> None:
    markers = list(request.node.iter_markers("needs_feature"))
    if not markers:
        return
    live: LiveServer = request.getfixturevalue("live_server")
    for marker in markers:
        for patterns in marker.args:
            if not live.matching(patterns):
                pytest.skip(f"feature not in this build: no endpoint matches {patterns!r}")


# --- the browser -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


_DOCUMENT_REFUSED = "Failed to load resource: the server responded with a status of 4"


@dataclass
class Watch:
    """What the pages of one test did: requests, console errors, failed answers."""

    requests: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    # (page URL, message, URL the message is about)
    _console: list[tuple[str, str, str]] = field(default_factory=list)
    # Pages answered with a deliberate 4xx: a form sent back with its errors (422), a
    # refused save (409). Chromium logs "Failed to load resource" for those documents;
    # that is the status the app meant, not an error of the page.
    _refused_documents: set[str] = field(default_factory=set)

    @property
    def console_errors(self) -> list[str]:
        return [
            f"{page_url}: {text}"
            for page_url, text, about in self._console
            if not (about in self._refused_documents and text.startswith(_DOCUMENT_REFUSED))
        ]

    def attach(self, context: Any) -> None:
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("page", self.attach_page)
        context.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")
        elif response.status >= 400 and response.request.resource_type == "document":
            self._refused_documents.add(response.url)

    def attach_page(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and self._console.append((page.url, m.text, (m.location or {}).get("url", "")))
            ),
        )
        page.on("pageerror", lambda e: self._console.append((page.url, str(e), "")))

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:", "about:"))
            and urlsplit(url).hostname != "127.0.0.1"
        ]


class Browsers:
    """Opens browser contexts (each its own cookies, like a separate person) for a test."""

    def __init__(self, browser: Any, live: LiveServer, watch: Watch) -> None:
        self.browser, self.live, self.watch = browser, live, watch
        self.contexts: list[Any] = []

    def new_page(self, viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = self.browser.new_context(
            viewport=viewport,
            base_url=self.live.url,
            locale="zh-CN",
            accept_downloads=True,
            **options,
        )
        self.watch.attach(context)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def browsers(
    browser: Any, live_server: LiveServer, watch: Watch, request: pytest.FixtureRequest
) -> Iterator[Browsers]:
    opened = Browsers(browser, live_server, watch)
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, context in enumerate(opened.contexts):
            for j, page in enumerate(context.pages):
                name = f"{_artifact_name(request.node.nodeid)}-{i}-{j}.png"
                try:
                    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
                except Exception as exc:  # a crashed page cannot be photographed
                    print(f"no screenshot {name}: {exc}")
    opened.close()
    if report is not None and report.passed:
        # Every test also proves: nothing fetched from elsewhere, no console error, no 5xx.
        assert not watch.foreign_requests(), watch.foreign_requests()
        assert not watch.console_errors, watch.console_errors
        assert not watch.server_errors, watch.server_errors


@pytest.fixture
def page(browsers: Browsers) -> Any:
    return browsers.new_page()


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def no_horizontal_overflow(page: Any) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
        " && document.body.scrollWidth <= window.innerWidth + 1"
    )
