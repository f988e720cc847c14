""" "New project" and "New company": on the project list, the board and the company list,
as plain links with access keys, for everyone who may create (not for leaders)."""

from __future__ import annotations

import re

import pytest

from crm.enums import Role
from tests import factories
from tests.conftest import login

PAGES = ("/projects", "/board", "/companies")


def _button(html: str, testid: str) -> str | None:
    found = re.search(rf'<a [^>]*data-testid="{testid}"[^>]*>', html)
    return found.group(0) if found else None


@pytest.mark.parametrize("url", PAGES)
def test_officer_finds_both_buttons_with_access_keys(client, app, url):
    login(client, factories.user(Role.OFFICER).email)
    html = client.get(url).get_data(as_text=True)
    new_project = _button(html, "new-project")
    new_company = _button(html, "new-company")
    assert new_project and 'href="/projects/new"' in new_project and 'accesskey="n"' in new_project
    assert new_company and 'href="/companies/new"' in new_company and 'accesskey="c"' in new_company
    assert ">New project</a>" in html and ">New company</a>" in html
    # Only one element per access key on the page, or the keys would be ambiguous.
    assert html.count('accesskey="n"') == 1 and html.count('accesskey="c"') == 1


@pytest.mark.parametrize("url", PAGES)
def test_leaders_get_no_create_buttons(client, app, url):
    login(client, factories.user(Role.LEADER).email)
    html = client.get(url).get_data(as_text=True)
    assert _button(html, "new-project") is None and _button(html, "new-company") is None


def test_buttons_lead_to_working_forms(client, app):
    login(client, factories.user(Role.OFFICER).email)
    assert client.get("/projects/new").status_code == 200
    assert client.get("/companies/new").status_code == 200
