"""Route registration, authentication, validation and errors for the JSON API."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any, Generic, TypeVar, get_args

from flask import Response, current_app, g, jsonify, request
from flask_login import current_user
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from crm.api import bp
from crm.enums import Role
from crm.extensions import csrf, db
from crm.i18n import refresh_locale
from crm.web import MAX_ID

PROBLEM_TYPE = "application/problem+json"
ItemT = TypeVar("ItemT")


class Schema(BaseModel):
    """Base of API models: unknown fields are refused, so typos are not ignored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_or_false_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """JSON true/false is not a number (pydantic would read true as 1)."""
        if isinstance(value, bool) and info.field_name:
            accepted = get_args(cls.model_fields[info.field_name].annotation) or (
                cls.model_fields[info.field_name].annotation,
            )
            if bool not in accepted and Any not in accepted:
                raise ValueError("Give a number or text here, not true or false.")
        return value


# Amounts are NUMERIC(16,2) (crm.db.Money): at most 14 digits before the point and 2 after.
# Fractions come as decimal strings; a JSON number with a fraction is a binary float.
AMOUNT_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,2})?$"


MAX_WHOLE_AMOUNT = 10**14 - 1


def _amount(value: Any) -> Decimal:
    """An amount from a decimal string such as "1250.50" or a whole number: exact (never a
    binary fraction), never negative, and small enough for the database's column."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON 2500000.0 is the whole number 2500000
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value) if 0 <= value <= MAX_WHOLE_AMOUNT else ""
    else:
        text = format(value, "f") if isinstance(value, Decimal) else value
    if isinstance(text, str) and re.fullmatch(AMOUNT_PATTERN, text):
        return Decimal(text)
    raise ValueError(
        'Give the amount as a decimal string such as "1250.50", or a whole number '
        "(at most 14 digits before the point and 2 after)."
    )


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["1250.50"]},
                {"type": "integer", "minimum": 0, "maximum": MAX_WHOLE_AMOUNT},
            ]
        },
        mode="validation",
    ),
]


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)
    per_page: int = Field(50, ge=1, le=200)


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int
    page: int
    per_page: int


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ApiError(Exception):
    """Raise from an endpoint to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        errors: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem(
    status: int,
    detail: str | None = None,
    errors: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = [{"field": f, "message": m} for f, m in errors]
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        out.append((loc, err["msg"]))
    return out


@dataclass(frozen=True)
class Header:
    """A request header an operation reads (documented as a header parameter)."""

    name: str
    required: bool
    description: str


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: Any
    status: int
    roles: tuple[Role, ...] | None
    binary: str | None = None
    tags: list[str] = field(default_factory=list)
    extra_responses: tuple[int, ...] = ()
    form: type[BaseModel] | None = None  # a multipart/form-data body: its text fields
    files: tuple[str, ...] = ()  # ... and its file parts
    headers: tuple[Header, ...] = ()


OPERATIONS: list[Operation] = []


def _authenticate() -> Any:
    """The user behind the request: a Bearer token, else the browser session.

    A browser session may use the API too (the UI's scripts do); then unsafe methods
    need the CSRF token, exactly as forms do.
    """
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        from crm.accounts.services import user_for_token

        user = user_for_token(db.session, header[7:].strip(), datetime.now(UTC))
        if user is None:
            raise ApiError(401, "The token is invalid, revoked, or its user is deactivated.")
        if db.session.dirty:
            # The token's last use (recorded at most once a minute) is kept even when the
            # request itself writes nothing; it is best effort, never a reason to fail.
            try:
                db.session.commit()
            except OperationalError:
                db.session.rollback()
        from crm.accounts.two_factor import must_enroll

        if must_enroll(db.session, user):
            raise ApiError(403, "Your role requires two-factor login: set it up first.")
        g.api_user = user
        refresh_locale()  # answer in the token user's language, as the web does
        return user
    if current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return current_user._get_current_object()
    raise ApiError(401, "Authentication required: send 'Authorization: Bearer <token>'.")


def api_user() -> Any:
    return g.api_user


def route(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    roles: tuple[Role, ...] | None = None,
    binary: str | None = None,
    tags: list[str] | None = None,
    extra_responses: tuple[int, ...] = (),
    form: type[BaseModel] | None = None,
    files: tuple[str, ...] = (),
    headers: tuple[Header, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an API endpoint described by pydantic models.

    The view receives `query=` and/or `body=` as validated models plus URL arguments, and
    returns a model (serialised with `response`), a Response, or (model, headers).
    A multipart/form-data endpoint gives `form=` (its text fields, validated into `form=`)
    and names its file parts in `files` (read by the view from `request.files`); the
    OpenAPI document describes both. Request headers the view reads are named in `headers`.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        endpoint = view.__name__

        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            user = _authenticate()
            g.api_user = user
            if roles is not None and user.role not in roles:
                raise ApiError(403, "Your role may not do this.")
            if query is not None:
                raw = {k: v for k, v in request.args.lists()}
                flat = {k: (v if _is_list_field(query, k) else v[-1]) for k, v in raw.items()}
                try:
                    kwargs["query"] = _within_integer_range(query.model_validate(flat))
                except ValidationError as exc:
                    raise ApiError(
                        422, "Invalid query parameters.", validation_errors(exc)
                    ) from exc
            if body is not None:
                payload = request.get_json(silent=True)
                if not isinstance(payload, dict):
                    raise ApiError(
                        422, "The body must be a JSON object.", [("body", "Expected a JSON object")]
                    )
                try:
                    kwargs["body"] = _within_integer_range(body.model_validate(payload))
                except ValidationError as exc:
                    raise ApiError(422, "Invalid request body.", validation_errors(exc)) from exc
            if form is not None:
                if not request.mimetype.startswith("multipart/form-data"):
                    raise ApiError(
                        415, "Send the body as multipart/form-data.", [("body", "multipart")]
                    )
                try:
                    kwargs["form"] = _within_integer_range(
                        form.model_validate(request.form.to_dict())
                    )
                except RequestEntityTooLarge as exc:
                    limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // 2**20
                    raise ApiError(413, f"The request is larger than {limit} MB.") from exc
                except ValidationError as exc:
                    raise ApiError(422, "Invalid request body.", validation_errors(exc)) from exc
            result = view(**kwargs)
            return _to_response(result, status)

        bp.add_url_rule(rule, endpoint=endpoint, view_func=wrapped, methods=[method])
        OPERATIONS.append(
            Operation(
                rule=rule,
                method=method,
                endpoint=endpoint,
                summary=summary,
                query=query,
                body=body,
                response=response,
                status=status,
                roles=roles,
                binary=binary,
                tags=tags or [],
                extra_responses=extra_responses,
                form=form,
                files=files,
                headers=headers,
            )
        )
        return wrapped

    return decorator


# Declared integers (ids, counts, years) go to INTEGER columns: 32 bits on PostgreSQL, which
# turns a larger parameter into an error even in a lookup. Integers inside free JSON data
# (incentive facts) need only fit the drivers' 64 bits.
MAX_INTEGER = MAX_ID
MAX_FREE_INTEGER = 2**63 - 1


def _is_free_data(annotation: Any) -> bool:
    """Whether a field's type holds free JSON data (Any somewhere in it)."""
    return annotation is Any or any(_is_free_data(arg) for arg in get_args(annotation))


def _out_of_range(value: Any, path: str, limit: int) -> str | None:
    """The path of the first integer in `value` beyond `limit` (None when all fit)."""
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            bound = MAX_FREE_INTEGER if _is_free_data(info.annotation) else limit
            found = _out_of_range(getattr(value, name), f"{path}.{name}" if path else name, bound)
            if found:
                return found
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return path if abs(value) > limit else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _out_of_range(item, f"{path}.{key}" if path else str(key), limit)
        if found:
            return found
    return None


def _within_integer_range(model: BaseModel) -> BaseModel:
    """Refuse integers the database cannot hold (they would overflow, not just miss)."""
    field = _out_of_range(model, "", MAX_INTEGER)
    if field:
        raise ApiError(422, "A number is out of range.", [(field, "Number out of range")])
    return model


def _is_list_field(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    if info is None:
        return False
    origin = getattr(info.annotation, "__origin__", None)
    return origin is list or "list[" in str(info.annotation)


def _to_response(result: Any, status: int) -> Any:
    headers: dict[str, str] = {}
    if isinstance(result, tuple):
        result, headers = result
    if isinstance(result, Response):
        return result
    if isinstance(result, BaseModel):
        response = Response(result.model_dump_json(), mimetype="application/json")
    elif result is None:
        response = Response(status=204)
        status = 204
    else:
        response = jsonify(result)
    response.status_code = status
    for key, value in headers.items():
        response.headers[key] = value
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return problem(exc.status, exc.detail, exc.errors, exc.headers)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    detail = exc.description if status not in (404,) else "No such resource."
    return problem(status, detail)


def page_of(items: list[Any], total: int, query: PageQuery) -> dict[str, Any]:
    return {"items": items, "total": total, "page": query.page, "per_page": query.per_page}
