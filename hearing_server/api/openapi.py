"""Build the OpenAPI 3.1 document from the route table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .routes import Route

_ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "staff": [{"apiKey": []}, {"bearer": []}],
    "admin": [{"apiKey": []}],
    "join": [{"bearer": []}],
    "court": [{"apiKey": []}, {"bearer": []}],
    "metrics": [{"bearer": []}],
    "none": [],
}


def build_openapi(routes: tuple[Route, ...]) -> dict[str, Any]:
    """An OpenAPI 3.1 description of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    for r in routes:
        op: dict[str, Any] = {
            "summary": r.summary,
            "operationId": r.handler.__name__,
            "security": _SECURITY[r.auth],
            "responses": {
                str(r.status): {
                    "description": "success",
                    "content": {
                        r.media_type: {
                            "schema": {
                                "type": "object" if r.media_type == "application/json" else "string"
                            }
                        }
                    },
                },
                "default": {
                    "description": "error",
                    "content": (
                        {"application/json": {"schema": _ERROR_REF}}
                        if r.error_media_type == "application/json"
                        else {r.error_media_type: {"schema": {"type": "string"}}}
                    ),
                },
            },
        }
        if r.status == 204:  # no body, so no content type
            del op["responses"]["204"]["content"]
        for status, description, schema in r.responses:
            op["responses"][str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
        params = re.findall(r"{(\w+)(?::[^}]*)?}", r.path)
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        if r.body is not None:
            schemas[r.body.name] = r.body.openapi()
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{r.body.name}"}}
                },
            }
        paths.setdefault(re.sub(r"{(\w+):[^}]*}", r"{\1}", r.path), {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "hearing-server API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
