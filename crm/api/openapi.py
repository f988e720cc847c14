"""The OpenAPI 3.1 document, generated from the registered routes' pydantic models."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from flask import jsonify
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from crm.api import bp
from crm.api.framework import MAX_INTEGER, OPERATIONS, Problem

REF = "#/components/schemas/{model}"
# Methods whose body the server limits (crm.security answers 413 above MAX_CONTENT_LENGTH).
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiJsonSchema(GenerateJsonSchema):
    """Integers carry the bounds the API enforces on them (larger ones are refused with
    422 before they reach the database), so the document admits no number it refuses."""

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        json_schema = super().int_schema(schema)
        json_schema.setdefault("minimum", -MAX_INTEGER)
        json_schema.setdefault("maximum", MAX_INTEGER)
        return json_schema


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for conv, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        schema = {"type": "integer"} if conv == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), params


def _query_params(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, schema_generator=ApiJsonSchema)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if prop.get("type") == "array" or any(
            s.get("type") == "array" for s in prop.get("anyOf", [])
        ):
            param["style"] = "form"
            param["explode"] = True
        params.append(param)
    return params


def build_document() -> dict[str, Any]:
    """Assemble the OpenAPI document from every registered operation."""
    models: list[Any] = [Problem]
    for op in OPERATIONS:
        for model in (op.body, op.response):
            if isinstance(model, type) and issubclass(model, BaseModel) and model not in models:
                models.append(model)
    _, top = models_json_schema(
        [(m, "validation") for m in models], ref_template=REF, schema_generator=ApiJsonSchema
    )
    # Response models are serialised: use their serialization schemas where they differ.
    defs: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        path, params = _path(op.rule)
        if op.query is not None:
            params = params + _query_params(op.query, defs)
        params = params + [
            {
                "name": h.name,
                "in": "header",
                "required": h.required,
                "description": h.description,
                "schema": {"type": "string"},
            }
            for h in op.headers
        ]
        operation: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": op.tags,
            "parameters": params,
            "responses": {},
        }
        if op.roles is not None:  # who may call it (others get 403)
            operation["x-roles"] = [role.value for role in op.roles]
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=op.body.__name__)}}
                },
            }
        if op.form is not None:
            schema = op.form.model_json_schema(ref_template=REF, schema_generator=ApiJsonSchema)
            defs.update(schema.pop("$defs", {}))
            for name in op.files:
                schema.setdefault("properties", {})[name] = {
                    "type": "string",
                    "format": "binary",
                }
                schema.setdefault("required", []).append(name)
            operation["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": schema}},
            }
        if op.binary:
            content = {op.binary: {"schema": {"type": "string", "format": "binary"}}}
            operation["responses"][str(op.status)] = {"description": "OK", "content": content}
        elif op.response is None:
            operation["responses"][str(op.status)] = {"description": "No content"}
        else:
            schema = TypeAdapter(op.response).json_schema(
                ref_template=REF, mode="serialization", schema_generator=ApiJsonSchema
            )
            defs.update(schema.pop("$defs", {}))
            operation["responses"][str(op.status)] = {
                "description": HTTPStatus(op.status).phrase,
                "content": {"application/json": {"schema": schema}},
            }
        error_codes = {401, 403, 404, 422, 429, 503, *op.extra_responses}
        if op.body is not None or op.form is not None:
            error_codes.add(400)
        if op.method in BODY_METHODS:
            error_codes.add(413)
        for code in sorted(error_codes):
            operation["responses"][str(code)] = {
                "description": HTTPStatus(code).phrase,
                "content": {
                    "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
                },
            }
        paths.setdefault("/api/v1" + path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Investment-attraction pipeline tracker API",
            "version": "1",
            "description": "Authenticate with `Authorization: Bearer <token>` (create a token on "
            "your profile page or with `crm token create EMAIL`). Errors are "
            "application/problem+json (RFC 9457). Amounts are in 万元 as decimal strings.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi_document() -> Any:
    return jsonify(build_document())
