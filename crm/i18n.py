"""Translations: zh_CN by default, English per user; number and money formatting."""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, has_app_context, request, session
from flask_babel import format_decimal, get_locale, refresh
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm.extensions import babel

LOCALES = ("zh_CN", "en")
SOURCE_DIR = Path(__file__).resolve().parent / "translations"


def compile_catalogs(target_dir: Path) -> None:
    """Compile each .po catalogue into `target_dir` when its .mo is missing or stale.

    Catalogues are compiled at start rather than committed as binaries.
    """
    for po_path in SOURCE_DIR.glob("*/LC_MESSAGES/messages.po"):
        locale = po_path.parent.parent.name
        # Babel names zh_CN "zh_Hans_CN" when it looks the catalogue up.
        mo_path = target_dir / str(Locale.parse(locale)) / "LC_MESSAGES" / "messages.mo"
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        tmp = mo_path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            write_mo(handle, catalog)
        tmp.replace(mo_path)


def select_locale() -> str:
    """The user's chosen language (an API token's user too), else the session's, else zh_CN."""
    user = g.get("api_user") if has_app_context() else None
    if user is None and current_user and current_user.is_authenticated:
        user = current_user
    user_locale = getattr(user, "locale", None)
    if user_locale in LOCALES:
        return user_locale
    chosen = session.get("locale") if request else None
    if chosen in LOCALES:
        return chosen
    return "zh_CN"


def refresh_locale() -> None:
    """Choose the language again once the request's user is known (API tokens)."""
    refresh()
    g.locale = select_locale()


# Parsed once: flask_babel parses the selector's answer on every request otherwise, and
# babel's parse normalises the name against every known locale (a few ms a request).
_PARSED: dict[str, Locale] = {}


def _selected_locale() -> Locale:
    name = select_locale()
    if name not in _PARSED:
        _PARSED[name] = Locale.parse(name)
    return _PARSED[name]


def is_english() -> bool:
    return str(get_locale()) == "en"


# Locales whose decimal and grouping symbols are "." and ",": their "#,##0.##" is computed
# directly (babel's format_decimal is the slowest part of a 50-row list otherwise).
_PLAIN_NUMBER_LOCALES = frozenset(("zh_CN", "zh_Hans_CN", "en"))
_HUNDREDTH = Decimal("0.01")


def _decimal_text(value: Decimal, locale: str) -> str:
    """`format_decimal(value, format="#,##0.##")` in the current locale (named `locale`)."""
    if locale not in _PLAIN_NUMBER_LOCALES or not value.is_finite():
        return str(format_decimal(value, format="#,##0.##"))
    # The same rounding as babel's (the context's, half-even), then optional decimals.
    text = f"{value.quantize(_HUNDREDTH):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def label(obj: object) -> str:
    """The name of a reference record in the current language (name_zh / name_en)."""
    if obj is None:
        return ""
    zh = getattr(obj, "name_zh", "") or ""
    en = getattr(obj, "name_en", "") or ""
    return (en or zh) if is_english() else (zh or en)


def money_wan(value: Decimal | int | float | None, unit: bool = True) -> str:
    """Format an amount given in 万元: 亿元 from 1亿 up, else 万元 (M CNY in English)."""
    if value is None:
        return "—"
    value = Decimal(value)
    locale = str(get_locale())
    if locale == "en":
        text = _decimal_text(value / 100, locale)
        return f"{text} M CNY" if unit else text
    if abs(value) >= 10000:
        text = _decimal_text(value / 10000, locale)
        return f"{text} 亿元" if unit else text
    text = _decimal_text(value, locale)
    return f"{text} 万元" if unit else text


def format_day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        from zoneinfo import ZoneInfo

        from flask import current_app

        tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


STAGE_LABELS = {
    "lead": _l("Lead"),
    "negotiating": _l("Negotiating"),
    "signed": _l("Signed"),
    "landed": _l("Landed"),
    "started": _l("Construction started"),
    "operating": _l("Operating"),
    "on_hold": _l("On hold"),
    "dropped": _l("Dropped"),
}

ZONE_LEVEL_LABELS = {
    "national_etdz": _l("National economic and technological development zone"),
    "national_hitech": _l("National high-tech zone"),
    "provincial": _l("Provincial zone"),
    "county": _l("County"),
    "district": _l("District"),
}


# Translated stage names by locale (a list shows one per row; translating each costs more
# than the rest of the row). Catalogues are compiled at start, so a name never changes.
_STAGE_TEXT: dict[str, dict[str, str]] = {}


def stage_label(stage: object) -> str:
    key = str(getattr(stage, "value", stage))
    labels = _STAGE_TEXT.get(str(get_locale()))
    if labels is None:
        labels = {k: str(v) for k, v in STAGE_LABELS.items()}
        if get_locale() is not None:  # outside a request nothing is translated: no cache
            _STAGE_TEXT[str(get_locale())] = labels
    return labels.get(key, key)


def zone_level_label(level: object) -> str:
    key = getattr(level, "value", level)
    return str(ZONE_LEVEL_LABELS.get(str(key), key))


def init_app(app: Flask) -> None:
    mo_dir = Path(app.instance_path) / "translations"
    compile_catalogs(mo_dir)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(mo_dir)
    babel.init_app(app, locale_selector=_selected_locale)
    app.jinja_env.filters["money"] = money_wan
    app.jinja_env.filters["day"] = format_day
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["is_english"] = is_english
    app.jinja_env.globals["stage_label"] = stage_label
    app.jinja_env.globals["zone_level_label"] = zone_level_label

    @app.before_request
    def _remember_locale() -> None:
        g.locale = select_locale()
