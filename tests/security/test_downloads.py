"""Downloads: no path traversal out of their folder, and exported spreadsheets hold user
text as text, never as a formula (CSV/formula injection).

Download routes are found by name in the URL map (endpoints mentioning download,
attachment, export, file, report, archive, static), so routes added later are covered.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import Integer, case, update
from werkzeug.routing import IntegerConverter

from crm.extensions import db
from tests.security.matrix import RULES, is_api, log_in_as, route_keys
from tests.security.test_xss import free_text_columns

DOWNLOAD_NAMES = re.compile(r"download|attachment|export|file|report|archive|static|xlsx|csv")
TRAVERSALS = (
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "..%252f..%252f..%252fetc%252fpasswd",
    "/etc/passwd",
    "....//....//....//....//etc/passwd",
    "..\\..\\..\\..\\..\\etc\\passwd",
    "../secret_key",
    "../../secret_key",
    "../../../pyproject.toml",
    "%00../../etc/passwd",
)
FILE_PARAMETERS = ("file", "filename", "name", "path", "key", "download", "week")
SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULAS = (
    '=HYPERLINK("http://example.invalid/x","click")',
    "+1+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "=1+1",
)
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def _download_rules(app):
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and DOWNLOAD_NAMES.search(rule.endpoint)
    ]


def _secrets(app) -> list[str]:
    from pathlib import Path

    found = ["root:x:0:0", app.config["SECRET_KEY"], "[build-system]"]
    key_file = Path(app.instance_path) / "secret_key"
    if key_file.exists():
        found.append(key_file.read_text().strip())
    return found


def test_no_path_traversal_in_download_routes(app, make_client, context):
    secrets = _secrets(app)
    client = make_client()
    log_in_as(client, "admin", context, {})
    headers = {"Authorization": f"Bearer {context['tokens']['admin']}"}
    problems, tried = [], 0
    for rule in _download_rules(app):
        text_args = [
            name
            for name, converter in rule._converters.items()
            if not isinstance(converter, IntegerConverter)
        ]
        urls = []
        for payload in TRAVERSALS:
            for arg in text_args:
                url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", lambda _m, p=payload: p, rule.rule)
                if "<" not in url:
                    urls.append(url)
            if rule.endpoint in RULES:
                base = RULES[rule.endpoint].url(context)
                joiner = "&" if "?" in base else "?"
                urls += [f"{base}{joiner}{name}={payload}" for name in FILE_PARAMETERS]
        for url in urls:
            response = client.get(url, headers=headers if url.startswith("/api/") else {})
            body = response.data.decode("utf-8", "replace")
            tried += 1
            if response.status_code >= 500:
                problems.append(f"GET {url}: {response.status_code}")
            if any(secret in body for secret in secrets):
                problems.append(f"GET {url}: served a file from outside its folder")
    assert not problems, "\n".join(problems)
    assert tried >= len(TRAVERSALS), "the static routes at least must have been tried"


def _poison_with_formulas() -> None:
    """Every free-text column gets formula payloads; with an integer key, rows alternate
    between a payload starting with "=" and one starting with "+", "-" or "@". Each column
    gets payloads that fit it (PostgreSQL refuses a value longer than a VARCHAR's length)."""
    for i, (table, column) in enumerate(free_text_columns()):
        length = getattr(column.type, "length", None)
        fitting = [f for f in FORMULAS if length is None or len(f) <= length]
        equals = [f for f in fitting if f.startswith("=")]
        others = [f for f in fitting if not f.startswith("=")]
        keys = list(table.primary_key.columns)
        first, second = equals[i % len(equals)], others[i % len(others)]
        if len(keys) == 1 and isinstance(keys[0].type, Integer):
            value = case((keys[0] % 2 == 0, first), else_=second)
        else:
            value = first if i % 2 == 0 else second
        db.session.execute(update(table).values({column.name: value}))
    db.session.flush()
    db.session.expire_all()


def _formula_problems(url: str, response) -> list[str]:
    problems = []
    if response.mimetype == SPREADSHEET:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(response.data))
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    value = cell.value
                    if cell.data_type == "f" and any(
                        part in str(value) for part in ("HYPERLINK", "cmd|", "1+1")
                    ):
                        problems.append(f"{url}: {sheet.title}!{cell.coordinate} is a formula")
    else:
        text = response.get_data(as_text=True)
        for row in csv.reader(io.StringIO(text)):
            for value in row:
                ours = "cmd|" in value or "HYPERLINK" in value or value == "=1+1"
                if ours and value.startswith(DANGEROUS_START):
                    problems.append(f"{url}: CSV field {value!r} starts a formula")
    return problems


def test_exports_hold_user_text_as_text(app, make_client, context):
    _poison_with_formulas()
    client = make_client()
    log_in_as(client, "admin", context, {})
    headers = {"Authorization": f"Bearer {context['tokens']['admin']}"}
    problems, exports = [], []
    for endpoint, method in sorted(route_keys(app)):
        if method != "GET" or endpoint not in RULES:
            continue
        url = RULES[endpoint].url(context)
        response = client.get(url, headers=headers if is_api(endpoint) else {})
        if response.mimetype in (SPREADSHEET, "text/csv"):
            exports.append(url)
            problems += _formula_problems(url, response)
    if not exports:
        pytest.skip("no xlsx or csv export in this build yet (every GET route was tried)")
    assert not problems, "\n".join(problems)
