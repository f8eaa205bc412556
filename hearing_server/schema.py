"""Declarative validation of JSON objects, shared by the HTTP API and signaling.

One declaration both validates a payload and documents it (OpenAPI, docs/protocol.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal


class SchemaError(Exception):
    """A payload that does not match its schema. ``code`` is stable for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


FieldType = Literal[
    "string", "integer", "number", "point", "boolean", "datetime", "enum", "enum_list", "id_list"
]

MAX_ID = 64  # characters of one id in an id_list


@dataclass(frozen=True, slots=True)
class Field:
    """One property of a JSON object body."""

    name: str
    type: FieldType
    required: bool = True
    enum: tuple[str, ...] = ()
    max_length: int = 200  # characters of a string; items of an enum_list or id_list
    nullable: bool = False
    description: str = ""
    multiline: bool = False  # allow CR, LF and TAB (e.g. an SDP); other controls never

    def parse(self, value: Any) -> Any:
        if value is None:
            # An optional field is left out, not sent as null (the OpenAPI document says so;
            # a null would reach code that expects a value).
            if self.nullable:
                return None
            raise SchemaError("invalid_field", f"{self.name} must not be null")
        if self.type == "enum_list":
            return self._parse_list(value)
        if self.type == "id_list":
            return self._parse_ids(value)
        if self.type in ("string", "datetime", "enum") and not isinstance(value, str):
            raise SchemaError("invalid_field", f"{self.name} must be a string")
        if self.type == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            raise SchemaError("invalid_field", f"{self.name} must be an integer")
        if self.type == "number" and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise SchemaError("invalid_field", f"{self.name} must be a number")
        if self.type == "point":
            return self._parse_point(value)
        if self.type == "boolean" and not isinstance(value, bool):
            raise SchemaError("invalid_field", f"{self.name} must be a boolean")
        if isinstance(value, str):
            if len(value) > self.max_length:
                raise SchemaError("invalid_field", f"{self.name} is longer than {self.max_length}")
            allowed = "\r\n\t" if self.multiline else ""
            if any(ord(ch) < 32 and ch not in allowed for ch in value):
                raise SchemaError("invalid_field", f"{self.name} holds control characters")
            # JSON can spell a lone surrogate ("\ud800"), which no UTF-8 text (nor either
            # database) can hold: refused here rather than failing in the store.
            if any("\ud800" <= ch <= "\udfff" for ch in value):
                raise SchemaError("invalid_field", f"{self.name} is not valid Unicode text")
        if self.type == "enum" and value not in self.enum:
            raise SchemaError(
                "invalid_field", f"{self.name} must be one of: {', '.join(self.enum)}"
            )
        if self.type == "datetime":
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError as exc:
                raise SchemaError(
                    "invalid_date", f"{self.name} is not an ISO 8601 date-time"
                ) from exc
            if parsed.tzinfo is None:
                raise SchemaError("invalid_date", f"{self.name} needs a timezone offset")
            return parsed
        return value

    def _parse_list(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise SchemaError("invalid_field", f"{self.name} must be a list")
        if len(value) > self.max_length:
            raise SchemaError("invalid_field", f"{self.name} holds at most {self.max_length} items")
        for item in value:
            if not isinstance(item, str) or item not in self.enum:
                raise SchemaError(
                    "invalid_field", f"{self.name} items must be among: {', '.join(self.enum)}"
                )
        return list(value)

    def _parse_point(self, value: Any) -> list[float]:
        """[x, y], each a number in 0..1: a place on a page, as a share of its width and
        height."""
        if (
            not isinstance(value, list)
            or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
            or not all(0.0 <= v <= 1.0 for v in value)
        ):
            raise SchemaError("invalid_field", f"{self.name} must be [x, y] with both in 0..1")
        return [float(value[0]), float(value[1])]

    def _parse_ids(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise SchemaError("invalid_field", f"{self.name} must be a list")
        if len(value) > self.max_length:
            raise SchemaError("invalid_field", f"{self.name} holds at most {self.max_length} items")
        for item in value:
            if (
                not isinstance(item, str)
                or not 0 < len(item) <= MAX_ID
                or not item.isascii()
                or not item.isprintable()
            ):
                raise SchemaError("invalid_field", f"{self.name} items must be ids")
        return list(value)

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.type == "id_list":
            out = {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
                "maxItems": self.max_length,
            }
        elif self.type == "enum_list":
            out = {
                "type": "array",
                "items": {"type": "string", "enum": list(self.enum)},
                "maxItems": self.max_length,
            }
        elif self.type == "point":
            out = {
                "type": "array",
                "items": {"type": "number", "minimum": 0, "maximum": 1},
                "minItems": 2,
                "maxItems": 2,
            }
        elif self.type == "datetime":
            out = {"type": "string", "format": "date-time"}
        elif self.type == "enum":
            out = {"type": "string", "enum": list(self.enum)}
        else:
            out = {"type": self.type}
        if self.type in ("string",):
            out["maxLength"] = self.max_length
        if self.nullable:
            out["nullable"] = True
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class Schema:
    """A JSON object with known fields; unknown fields are refused."""

    name: str
    fields: tuple[Field, ...]

    def parse(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise SchemaError("invalid_body", "the payload must be a JSON object")
        known = {f.name for f in self.fields}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SchemaError("unknown_field", f"unknown field(s): {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in data:
                if f.required:
                    raise SchemaError("missing_field", f"{f.name} is required")
                continue
            out[f.name] = f.parse(data[f.name])
        return out

    def openapi(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": [f.name for f in self.fields if f.required],
            "properties": {f.name: f.openapi() for f in self.fields},
        }
