"""Text typed by users is shown escaped on every page, never run as markup.

Every free-text column of every table (names, titles, notes, purposes, ... of every
feature: found from the models, not listed by hand) is filled with script payloads; then
every page of the web UI is opened as an admin and as an officer, and none may contain a
payload unescaped. The same payloads typed into the admin forms are checked too.
"""

from __future__ import annotations

import re

from sqlalchemy import JSON, Enum, String, Text, update

from crm.extensions import db
from tests.conftest import login
from tests.security.matrix import RULES, is_api, log_in_as, route_keys

PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;")
# Free text is what users type: identifiers, codes, hashes, secrets, enumerations and
# machine-made columns are left alone (changing them would break the pages for reasons
# that have nothing to do with escaping).
_SKIP_NAME = re.compile(
    r"(^|_)(id|code|codes|key|kind|type|status|stage|locale|hash|secret|prefix|token|url|"
    r"value|blob|normalized_name|uscc|email|ip|method|path|mimetype|checksum|sha256|action|"
    # machine-read text: rule expressions, stored files, periods, settings
    r"condition|conditions|expression|formula|rule|rules|definition|spec|yaml|json|config|"
    r"schedule|cron|filters|mapping|payload|template|cursor|digest|filename|file|storage|"
    r"stored|content_type|mime|week|period|unit|currency|format|lang|language|version)$"
)


def _declared_skips() -> set[str]:
    """ "table.column" names a feature excludes in its tests/<feature>/access.py
    (`XSS_SKIP_COLUMNS`), for machine-read text the name rules above do not catch."""
    from tests.security.matrix import _access_modules

    return {c for m in _access_modules() for c in getattr(m, "XSS_SKIP_COLUMNS", ())}


def free_text_columns() -> list[tuple[object, object]]:
    """(table, column) for every column users fill with free text."""
    found = []
    skipped = _declared_skips()
    for table in db.metadata.sorted_tables:
        # A unique index makes a column a key; a plain index (the lists' sort indexes on
        # names, e.g. ix_project_name_id) says nothing about what the column holds.
        indexed = {c.name for index in table.indexes if index.unique for c in index.columns}
        for column in table.columns:
            kind = column.type
            if isinstance(kind, Enum | JSON) or not isinstance(kind, String | Text):
                continue
            if column.primary_key or column.foreign_keys or column.unique:
                continue
            if column.name in indexed or column.index or _SKIP_NAME.search(column.name):
                continue
            if f"{table.name}.{column.name}" in skipped:
                continue
            length = getattr(kind, "length", None)
            if length is not None and length < max(len(p) for p in PAYLOADS):
                continue
            found.append((table, column))
    return found


def poison_every_text_column() -> list[str]:
    names = []
    for i, (table, column) in enumerate(free_text_columns()):
        payload = PAYLOADS[i % len(PAYLOADS)]
        db.session.execute(update(table).values({column.name: payload}))
        names.append(f"{table.name}.{column.name}")
    db.session.flush()
    db.session.expire_all()
    return names


def _is_markup(mimetype: str) -> bool:
    """Responses a browser parses as text or markup (HTML, SVG, XML, CSV, plain text)."""
    return mimetype.startswith("text/") or mimetype.endswith(("/xml", "+xml"))


def _web_pages(app, ctx) -> list[tuple[str, str]]:
    pages = []
    for endpoint, method in sorted(route_keys(app)):
        if method == "GET" and not is_api(endpoint) and endpoint in RULES:
            pages.append((endpoint, RULES[endpoint].url(ctx)))
    return pages


def test_the_poisoned_columns_include_the_obvious_ones(app):
    names = {f"{t.name}.{c.name}" for t, c in free_text_columns()}
    assert {
        "team.name_zh",
        "team.name_en",
        "user_account.name",
        "project.name",
        "company.name",
        "industrial_chain.name_zh",
        "zone.name_zh",
    } <= names
    assert not {"user_account.password_hash", "user_account.email", "team.code"} & names


def test_payloads_in_every_text_field_are_escaped_on_every_page(app, make_client, context):
    poisoned = poison_every_text_column()
    assert len(poisoned) > 10
    problems, shown_on = [], set()
    for actor in ("admin", "officer"):
        sessions: dict = {}
        for endpoint, url in _web_pages(app, context):
            client = make_client()
            log_in_as(client, actor, context, sessions)
            response = client.get(url)
            if response.status_code >= 500:
                problems.append(f"{url} as {actor}: {response.status_code}")
            if not _is_markup(response.mimetype):
                # Binary downloads (.xlsx exports, archived reports) are not rendered by
                # the browser and are not UTF-8 text: nothing to escape there.
                continue
            body = response.get_data(as_text=True)
            for payload in PAYLOADS:
                if payload in body:
                    problems.append(f"{url} ({endpoint}) as {actor} shows {payload!r} unescaped")
            if any(escaped in body for escaped in ESCAPED):
                shown_on.add(endpoint)
    assert not problems, "\n".join(problems)
    # The pages that show names did show the payloads (escaped): the test saw them.
    assert {
        "pipeline.project_list",
        "pipeline.project_detail",
        "accounts.users",
        "accounts.teams",
        "reference.index",
    } <= shown_on, shown_on


def test_api_answers_json_that_browsers_do_not_sniff(app, client, context):
    poison_every_text_column()
    token = context["tokens"]["admin"]
    for endpoint, method in sorted(route_keys(app)):
        if method != "GET" or not is_api(endpoint):
            continue
        url = RULES[endpoint].url(context)
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, url
        assert response.mimetype in ("application/json", "application/problem+json") or (
            not response.mimetype.startswith("text/")
        ), (url, response.mimetype)
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_payloads_typed_into_the_admin_forms_are_escaped(client, context):
    login(client, context["users"]["admin"].email)
    response = client.form(
        "/admin/teams/new",
        {"code": "xss-team", "name_zh": PAYLOADS[0], "name_en": PAYLOADS[1], "zone_code": ""},
    )
    assert response.status_code == 302
    officer = context["users"]["officer"]
    response = client.form(
        f"/admin/users/{officer.id}",
        {"name": PAYLOADS[1], "role": "officer", "team_code": context["team_code"]},
    )
    assert response.status_code == 302
    for url in ("/admin/teams", "/admin/users", f"/admin/users/{officer.id}"):
        body = client.get(url).get_data(as_text=True)
        assert not any(p in body for p in PAYLOADS), url
        assert any(e in body for e in ESCAPED), url
    # A form that fails validation shows the input again, escaped.
    response = client.form("/admin/teams/new", {"code": "BAD CODE", "name_zh": PAYLOADS[1]})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert PAYLOADS[1] not in body and "&#34;&gt;&lt;img" in body
