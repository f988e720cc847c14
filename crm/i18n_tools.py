"""Extracting messages and merging catalogues (used by `crm i18n update` and the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from crm.i18n import SOURCE_DIR

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("**.py", "python"), ("**.html", "jinja2")]
OPTIONS = {"**.html": {"extensions": "jinja2.ext.do"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def extract() -> Catalog:
    """Every translatable message in crm/ and templates/."""
    catalog = Catalog(project="crm", charset="utf-8")
    for folder in (ROOT / "crm", ROOT / "templates"):
        for filename, lineno, message, comments, context in extract_from_dir(
            str(folder), METHOD_MAP, OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
        ):
            catalog.add(
                message,
                None,
                [(str(folder.name + "/" + filename), lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def update_catalogs() -> Iterator[str]:
    template = extract()
    for locale in ("zh_CN",):
        path = SOURCE_DIR / locale / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
        else:
            catalog = Catalog(locale=locale, project="crm", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(
                handle,
                catalog,
                width=100,
                omit_header=False,
                ignore_obsolete=True,
                sort_output=True,
                no_location=True,
            )
        missing = sum(1 for m in catalog if m.id and not m.string)
        yield f"{locale}: {len(catalog)} messages, {missing} untranslated"


def untranslated(locale: str = "zh_CN") -> list[str]:
    """Messages used in the code that the catalogue does not translate."""
    path = SOURCE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    missing = []
    for message in extract():
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        text = found.string if found else None
        ok = all(text) if isinstance(text, tuple | list) else bool(text)
        if not ok:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing
