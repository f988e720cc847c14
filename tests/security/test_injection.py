"""SQL-like input in every filter, search box and query parameter gives no error and no
leak: no 500, no database error text, and nothing from another team's records.

The parameters come from the pages themselves (each GET form's fields, each link's query
parameters, the navigation bar's search box) and from the OpenAPI document, so a new
filter is attacked as soon as it is rendered or documented.

A web page is tried with every input only for the parameters it reads: the requests record
which query parameters the app looks up (`_Reads`); a parameter a page never looked at
with the first input cannot change its answer with another one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Request, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property

from crm.extensions import db
from crm.pipeline.models import Company, Project
from tests.security import pages
from tests.security.matrix import RULES, is_api, log_in_as, route_keys

INPUTS = (
    "' OR 1=1 --",
    "%",
    "_",
    "%%' OR '1'='1",
    "1; DROP TABLE project; --",
    "' UNION SELECT email, password_hash FROM user_account --",
    "\\",
    "\x00",
    "9" * 40,
    "-1",
    "项目' OR 'a'='a",
)
DATABASE_ERRORS = re.compile(
    r"Traceback|OperationalError|ProgrammingError|DataError|IntegrityError|sqlite3\.|psycopg|"
    # Upper-case SQL on one line: the HTML <select> element must not count.
    r"syntax error at|SQL logic error|unrecognized token|(?-i:SELECT [^<>\n]* FROM)|"
    # A password hash: scrypt in production, pbkdf2 in the tests (tests/conftest.py).
    r"scrypt:|pbkdf2:",
    re.IGNORECASE,
)
SECRET_PROJECT = "绝密项目-SECRETMARK"
SECRET_COMPANY = "绝密投资方-SECRETMARK"


def _hide_a_secret_in_the_other_team(ctx) -> None:
    project = db.session.get(Project, ctx["other_project_id"])
    project.name = SECRET_PROJECT
    db.session.get(Company, project.company_id).name = SECRET_COMPANY
    db.session.flush()


def _check(response, label: str, problems: list[str], leak_check: bool, value: str = "") -> None:
    body = response.get_data(as_text=True)
    if value:
        # A page may show the user's own input back (escaped) next to the field: that is
        # not a database error, so leave the echoed input out of the search.
        import html

        from markupsafe import escape

        for echoed in {value, str(escape(value)), html.escape(value), html.escape(value, False)}:
            body = body.replace(echoed, "")
    if response.status_code >= 500:
        problems.append(f"{label}: {response.status_code}")
    elif DATABASE_ERRORS.search(body):
        problems.append(f"{label}: database error text in the answer")
    # Companies are a shared directory (docs/pipeline-finding.md); another team's *projects*
    # are what must never show.
    if leak_check and SECRET_PROJECT in body:
        problems.append(f"{label}: shows another team's project")


def _web_targets(app, make_client, ctx, sessions) -> dict[str, set[str]]:
    """URL -> query parameters, found on every GET page an officer can open."""
    targets: dict[str, set[str]] = {}
    for endpoint, method in sorted(route_keys(app)):
        if method != "GET" or is_api(endpoint):
            continue
        url = RULES[endpoint].url(ctx)
        client = make_client()
        log_in_as(client, "officer", ctx, sessions)
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        page_url = "http://localhost" + url
        names = pages.get_parameters(page_url, html) - {"csrf_token"}
        targets.setdefault(pages.path_of(page_url), set()).update(names)
        for form in pages.search_forms(page_url, html):
            targets.setdefault(pages.path_of(form.action), set()).update(set(form.fields))
    return targets


class _Reads:
    """The query parameters the app looked at while serving the current request."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.everything = False
        self._quiet = 0

    def clear(self) -> None:
        self.names.clear()
        self.everything = False

    def name(self, name: Any) -> None:
        if not self._quiet:
            self.names.add(name)

    def all(self) -> None:
        if not self._quiet:
            self.everything = True

    def __contains__(self, name: str) -> bool:
        return self.everything or name in self.names

    @contextmanager
    def quietly(self) -> Iterator[None]:
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1


READS = _Reads()


class _WatchedArgs(ImmutableMultiDict):
    """`request.args` noting what is read: a lookup by name reads that parameter; anything
    else that shows the content (iterating, copying, counting...) reads them all."""

    def __getitem__(self, key: Any) -> Any:
        READS.name(key)
        return super().__getitem__(key)

    def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        READS.name(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        READS.name(key)
        return super().getlist(key, *args, **kwargs)

    def __contains__(self, key: object) -> bool:
        READS.name(key)
        return super().__contains__(key)


def _reads_everything(name: str) -> Any:
    inherited = getattr(ImmutableMultiDict, name)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        READS.all()
        return inherited(self, *args, **kwargs)

    return method


for _name in (
    "__iter__", "__len__", "__eq__", "__repr__", "__reduce_ex__", "__copy__", "__deepcopy__",
    "keys", "items", "values", "lists", "listvalues", "to_dict", "copy", "deepcopy",
):  # fmt: skip
    setattr(_WatchedArgs, _name, _reads_everything(_name))


class _WatchedRequest(Request):
    """Parsing the raw query string (`request.query_string`) reads every parameter. The
    whole URL (`full_path`, `url`) only goes back into the page (the language switch's
    `next` field): it does not count as a read."""

    parameter_storage_class = _WatchedArgs

    @property
    def query_string(self) -> bytes:  # type: ignore[override]
        READS.all()
        return self._raw_query_string

    @query_string.setter
    def query_string(self, value: bytes) -> None:
        self._raw_query_string = value

    @cached_property
    def args(self) -> Any:  # type: ignore[override]
        with READS.quietly():
            return super().args

    @cached_property
    def full_path(self) -> str:  # type: ignore[override]
        with READS.quietly():
            return super().full_path

    @property
    def url(self) -> str:  # type: ignore[override]
        with READS.quietly():
            return super().url


def test_filters_and_searches_of_the_web_ui(app, make_client, context, monkeypatch):
    _hide_a_secret_in_the_other_team(context)
    sessions: dict = {}
    targets = _web_targets(app, make_client, context, sessions)
    assert "/projects" in targets and "/" in targets, targets
    monkeypatch.setattr(app, "request_class", _WatchedRequest)
    problems: list[str] = []
    tried, read = 0, set()
    for path, names in sorted(targets.items()):
        for name in sorted(names | {"page", "q", "sort"}):
            for value in INPUTS:
                client = make_client()
                log_in_as(client, "officer", context, sessions)
                url = f"{path}?{urlencode({name: value})}"
                READS.clear()
                _check(client.get(url), f"GET {url}", problems, leak_check=True, value=value)
                tried += 1
                if name not in READS:
                    break  # the page never looked at it: no other value can change the answer
                read.add((path, name))
    assert not problems, "\n".join(problems)
    # The watch sees the filters, the search box and the pages' own parameters.
    assert {("/projects", "q"), ("/projects", "chain"), ("/search", "q")} <= read, read
    assert {("/visits", "type"), ("/stalled", "rule"), ("/board", "owner")} <= read, read
    assert tried >= len(INPUTS) * len(read)


@pytest.mark.parametrize(
    ("read", "seen"),
    [
        (lambda r: r.args.get("a", type=int), {"a"}),
        (lambda r: r.args.getlist("a"), {"a"}),
        (lambda r: r.args["a"], {"a"}),
        (lambda r: "a" in r.args, {"a"}),
        (lambda r: r.values.get("a"), {"a"}),
        (lambda r: r.args.to_dict(), {"a", "b"}),
        (lambda r: dict(r.args), {"a", "b"}),
        (lambda r: bool(r.args), {"a", "b"}),
        (lambda r: r.query_string, {"a", "b"}),
        (lambda r: (r.full_path, r.url, r.path), set()),
    ],
)
def test_the_watch_sees_how_a_parameter_is_read(app, monkeypatch, read, seen):
    monkeypatch.setattr(app, "request_class", _WatchedRequest)
    with app.test_request_context("/projects?a=1&b=2"):
        READS.clear()
        read(request)
        assert {name for name in ("a", "b") if name in READS} == seen


def test_query_parameters_of_the_api(app, client, context):
    _hide_a_secret_in_the_other_team(context)
    document = client.get("/api/v1/openapi.json").get_json()
    token = context["tokens"]["officer"]
    headers = {"Authorization": f"Bearer {token}"}
    problems: list[str] = []
    tried = 0
    for path, operations in sorted(document["paths"].items()):
        operation = operations.get("get")
        if not operation:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(context.get(m.group(1), 1)), path)
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for name in [*names, "q"]:
            for value in INPUTS:
                response = client.get(f"{url}?{urlencode({name: value})}", headers=headers)
                label = f"GET {url}?{name}={value!r}"
                _check(response, label, problems, leak_check=True, value=value)
                if response.status_code >= 400 and response.mimetype != "application/problem+json":
                    problems.append(f"{label}: error not as problem+json")
                tried += 1
    assert not problems, "\n".join(problems)
    assert tried > 0


def test_ids_beyond_what_the_database_holds_are_not_found(app, make_client, context):
    """An id too large for a 64-bit integer is a 404, not an overflow inside the driver."""
    problems = []
    admin_client = make_client()
    log_in_as(admin_client, "admin", context, {})
    headers = {"Authorization": f"Bearer {context['tokens']['admin']}"}
    for rule in app.url_map.iter_rules():
        converters = rule._converters.values()
        if "GET" not in rule.methods or not any(
            isinstance(c, IntegerConverter) for c in converters
        ):
            continue
        url = re.sub(r"<int:\w+>", str(2**64 + 7), rule.rule)
        if "<" in url:
            continue
        response = admin_client.get(url, headers=headers if url.startswith("/api/") else {})
        if response.status_code != 404:
            problems.append(f"GET {url}: {response.status_code}")
    assert not problems, "\n".join(problems)


def test_a_nul_character_is_refused_wherever_it_comes_from(make_client, client, context):
    """PostgreSQL text cannot hold NUL: such input is refused with a clear answer on every
    database (SQLite would store it), never sent to the database."""
    web = make_client()
    log_in_as(web, "officer", context, {})
    page = web.get("/projects?q=a%00b")
    assert page.status_code == 400
    assert "NUL" in page.get_data(as_text=True)
    form = web.form("/projects/new", {"name": "a\x00b"})
    assert form.status_code == 400

    headers = {"Authorization": f"Bearer {context['tokens']['officer']}"}
    query = client.get("/api/v1/projects?team=a%00b", headers=headers)
    assert query.status_code == 422 and query.mimetype == "application/problem+json"
    assert query.get_json()["errors"] == [{"field": "team", "message": "NUL character"}]
    body = client.post(
        "/api/v1/companies", json={"name": "ok", "aliases": ["x", "a\x00b"]}, headers=headers
    )
    assert body.status_code == 422
    assert body.get_json()["errors"][0]["field"] == "aliases.1"
    assert client.get("/api/v1/policies/x%00y", headers=headers).status_code == 404
