"""In a real browser: logging in and out, switching the language, every page of the app
without console errors or requests to other hosts, phone-sized screens, two-factor login."""

from __future__ import annotations

import pyotp
import pytest

from tests.browser.conftest import DESKTOP, PHONE, log_in, no_horizontal_overflow

ADMIN = "admin@example.com"
OFFICER = "officer.wangcheng@example.com"


def test_log_in_and_out(page):
    page.goto("/")
    page.wait_for_url("**/login**")  # anonymous visitors are sent to log in
    page.fill("input[name=email]", OFFICER)
    page.fill("input[name=password]", "not-the-password")
    page.click("main form button[type=submit]")
    assert page.locator(".invalid-feedback").is_visible()
    assert page.input_value("input[name=email]") == OFFICER  # what was typed is kept
    log_in(page, OFFICER)
    assert page.locator("nav").get_by_text("望城专员").is_visible()
    page.locator("nav").get_by_text("望城专员").click()
    page.locator("nav form[action='/logout'] button").click()
    page.wait_for_url("**/login")
    page.goto("/projects")
    page.wait_for_url("**/login**")


def test_switch_the_language(page):
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "登录"
    page.click("[data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Log in"
    # The choice survives the login and is kept on the user.
    log_in(page, "officer.etdz@example.com")
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator("nav .dropdown-toggle").last.click()
    page.click("nav [data-testid=switch-language]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def _page_paths(live_server) -> list[str]:
    """Every GET route of the web UI without URL arguments, and a project page."""
    from sqlalchemy import select

    paths = []
    for rule in live_server.app.url_map.iter_rules():
        if (
            "GET" in rule.methods
            and not rule.arguments
            and not rule.endpoint.startswith(("api.", "static", "bootstrap."))
            and rule.endpoint not in ("accounts.login", "accounts.login_code", "main.healthz")
        ):
            paths.append(rule.rule)
    from crm.pipeline.models import Project

    project_id = live_server.query(lambda s: s.scalar(select(Project.id).order_by(Project.id)))
    paths.append(f"/projects/{project_id}")
    return sorted(paths)


def test_every_page_renders_cleanly_for_an_admin(browsers, live_server, watch):
    page = browsers.new_page()
    log_in(page, ADMIN)
    paths = _page_paths(live_server)
    assert {"/", "/projects", "/profile", "/admin/users", "/reference/"} <= set(paths)
    for path in paths:
        # Downloads (Excel exports) and JSON endpoints are not pages: the browser cannot
        # navigate to a download, so fetch those with the page's cookies instead.
        head = page.request.get(path, max_redirects=0)
        assert head.ok, f"{path}: {head.status}"
        if not head.headers.get("content-type", "").startswith("text/html"):
            continue
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        assert page.locator("main").count() == 1, path
        assert not watch.console_errors, watch.console_errors
    # Everything came from this machine: scripts, styles, fonts, images.
    assert watch.requests and not watch.foreign_requests(), watch.foreign_requests()
    assert any("/static/" in url for url in watch.requests)


def test_the_navigation_reaches_every_menu_entry(browsers, watch):
    page = browsers.new_page()
    log_in(page, ADMIN)
    links = page.locator("nav a.nav-link:not(.dropdown-toggle), nav a.dropdown-item")
    hrefs = sorted({links.nth(i).get_attribute("href") for i in range(links.count())})
    assert "/projects" in hrefs and "/admin/users" in hrefs
    for href in hrefs:
        assert page.goto(href).ok, href
    assert not watch.console_errors


@pytest.mark.parametrize("who", [None, OFFICER])
def test_phone_sized_screens_do_not_scroll_sideways(browsers, who):
    page = browsers.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/login")
    assert no_horizontal_overflow(page)
    if who:
        log_in(page, who)
        for path in ("/", "/projects", "/profile"):
            page.goto(path)
            assert no_horizontal_overflow(page), path
        # The menu folds into the toggler and opens on a tap.
        toggler = page.locator(".navbar-toggler")
        assert toggler.is_visible()
        toggler.tap()
        page.locator("#nav a.nav-link", has_text="项目").first.wait_for(state="visible")


def test_two_factor_login_from_enrolment_to_the_code_step(browsers, live_server):
    email = live_server.new_user("leader")
    page = browsers.new_page()
    log_in(page, email)
    page.goto("/profile")
    page.click("[data-testid=two-factor-link]")
    page.click("[data-testid=two-factor-setup]")
    assert page.locator("[data-testid=totp-qr]").evaluate("img => img.naturalWidth > 0")
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    page.fill("input[name='otp-code']", pyotp.TOTP(secret).now())
    page.locator("form[action='/profile/2fa/confirm'] button").click()
    codes = page.locator("[data-testid=recovery-codes] code")
    assert codes.count() == 10
    recovery = codes.first.inner_text()

    # A second browser logs in: password, then the code step.
    other = browsers.new_page(viewport=DESKTOP)

    def password_step() -> None:
        other.goto("/login")
        other.fill("input[name=email]", email)
        other.fill("input[name=password]", "changsha-demo-2026")
        other.click("main form button[type=submit]")
        other.wait_for_url("**/login/code")

    password_step()
    other.goto("/projects")
    other.wait_for_url("**/login?**")  # not logged in until the code is given
    password_step()
    other.fill("input[name=code]", recovery)
    other.click("[data-testid=login-code-form] button")
    other.wait_for_url(lambda url: "/login" not in url)
    assert other.locator(".alert-warning").inner_text()  # "you used a recovery code"
