"""The application factory, configuration, translations and offline assets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_production_refuses_to_start_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="CRM_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_development_generates_a_secret_once_and_keeps_it(monkeypatch, tmp_path):
    monkeypatch.delenv("CRM_ENV", raising=False)
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(tmp_path))
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_from_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("CRM_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_database_url_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(tmp_path))
    assert create_app().config["SQLALCHEMY_DATABASE_URI"].endswith("/x.db")


def test_every_message_has_a_chinese_translation():
    from crm.i18n_tools import untranslated

    missing = untranslated("zh_CN")
    assert not missing, f"run `crm i18n update` and translate: {missing[:20]}"


def test_catalogues_are_not_committed_as_binaries():
    assert not list((ROOT / "crm" / "translations").rglob("*.mo")) or (
        "*.mo" in (ROOT / ".gitignore").read_text()
    )


def test_chinese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page
    client.form("/language/en", {"next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "Log in" in page


def test_no_page_or_template_loads_assets_from_another_host():
    pattern = re.compile(r"""(src|href)=["']https?://""")
    for path in (ROOT / "templates").rglob("*.html"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


def test_bootstrap_is_served_locally(client):
    page = client.get("/login").get_data(as_text=True)
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:css|js))""", page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200
        response.close()


def test_money_is_shown_in_wan_or_yi(app):
    from decimal import Decimal

    from crm.i18n import money_wan

    with app.test_request_context():
        assert money_wan(Decimal("750000")) == "75 亿元"
        assert money_wan(Decimal("5000.5")) == "5,000.5 万元"
        assert money_wan(None) == "—"


def test_money_figures_are_what_babel_writes(app):
    """money_wan writes "#,##0.##" itself for zh_CN and English (babel is slow per row);
    the digits must be exactly babel's, rounding included."""
    import random
    from decimal import Decimal

    from babel.numbers import format_decimal
    from flask_babel import force_locale

    from crm.i18n import money_wan

    rng = random.Random(7)
    values = [Decimal(v) for v in ("0", "-0", "0.005", "0.015", "-0.005", "9999.995", "1E+3")]
    values += [
        Decimal(rng.randint(-(10**12), 10**12)).scaleb(-rng.randint(0, 5)) for _ in range(3000)
    ]
    with app.test_request_context():
        for locale, divisor, suffix in (("zh_CN", 1, " 万元"), ("en", 100, " M CNY")):
            with force_locale(locale):
                for value in values:
                    if locale == "zh_CN" and abs(value) >= 10000:
                        continue  # 亿元: below
                    expected = format_decimal(value / divisor, format="#,##0.##", locale=locale)
                    assert money_wan(value) == expected + suffix, (locale, value)
        big = [v for v in values if abs(v) >= 10000]
        for value in big:
            expected = format_decimal(value / 10000, format="#,##0.##", locale="zh_CN")
            assert money_wan(value) == expected + " 亿元", value


def test_psycopg_keeps_the_parsed_form_of_long_statements():
    """The reminder rules' statement (~30 KB, hundreds of parameters) is parsed by psycopg
    once, not on every page that shows stalled badges (crm.db._cache_long_queries)."""
    queries = pytest.importorskip("psycopg._queries")
    from crm import db as crm_db

    assert queries.MAX_CACHED_STATEMENT_LENGTH == crm_db.PSYCOPG_CACHED_QUERY_BYTES
    assert queries.MAX_CACHED_STATEMENT_PARAMS == crm_db.PSYCOPG_CACHED_QUERY_PARAMS
