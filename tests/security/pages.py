"""Reading the app's own pages: the forms they hold and the query parameters they use.

The security tests find what to attack from what the UI renders (every GET form's fields,
every link's query parameters, every file input), so a feature's new filter, search box or
upload form is attacked as soon as it is on a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> default value
    files: list[str] = field(default_factory=list)  # names of file inputs
    page: str = ""


class _Parser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urljoin(self.page_url, a.get("action") or self.page_url)
            self._form = Form(
                action=action,
                method=(a.get("method") or "get").upper(),
                enctype=a.get("enctype") or "application/x-www-form-urlencoded",
                page=self.page_url,
            )
            self.forms.append(self._form)
        elif tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page_url, a["href"]))
        elif self._form is not None and tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind == "file":
                self._form.files.append(a["name"])
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields[a["name"]] = a.get("value", "on")
                else:
                    self._form.fields.setdefault(a["name"], "")
            elif tag == "input":
                self._form.fields[a["name"]] = a.get("value", "")
        elif self._form is not None and tag == "select" and a.get("name"):
            self._select = a["name"]
            self._form.fields.setdefault(self._select, "")
        elif self._form is not None and tag == "option" and self._select:
            if not self._form.fields.get(self._select) or "selected" in a:
                self._form.fields[self._select] = a.get("value", "")
        elif self._form is not None and tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form.fields[self._textarea] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data


def parse(page_url: str, html: str) -> tuple[list[Form], list[str]]:
    parser = _Parser(page_url)
    parser.feed(html)
    return parser.forms, parser.links


def path_of(url: str) -> str:
    return urlsplit(url).path


def query_names(url: str) -> set[str]:
    return {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}


def get_parameters(page_url: str, html: str) -> set[str]:
    """Query parameters the page sends to itself: its GET forms' fields and its links'."""
    forms, links = parse(page_url, html)
    path = path_of(page_url)
    names: set[str] = set()
    for form in forms:
        if form.method == "GET" and path_of(form.action) == path:
            names |= set(form.fields)
    for link in links:
        if path_of(link) == path:
            names |= query_names(link)
    return names


def search_forms(page_url: str, html: str) -> list[Form]:
    """GET forms that lead to another page (the navigation bar's search box)."""
    forms, _links = parse(page_url, html)
    return [f for f in forms if f.method == "GET" and path_of(f.action) != path_of(page_url)]


def upload_forms(page_url: str, html: str) -> list[Form]:
    forms, _links = parse(page_url, html)
    return [f for f in forms if f.files]
