"""AWS Query output: results serialised against botocore's output shapes, errors in AWS's shape."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape

from berth.errors import BerthError

__all__ = ["error_code", "render_error", "render_result"]

_POLICY_DOCUMENTS = frozenset({"policyDocumentType"})


def error_code(error: BerthError) -> str:
    return error.query_type or error.aws_type


def render_result(
    operation: OperationModel, result: Mapping[str, Any], request_id: str, namespace: str
) -> str:
    name = operation.name
    parts = [f'<{name}Response xmlns="{namespace}">']
    shape = operation.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        parts.append(f"<{wrapper}>{_members(shape, result)}</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{name}Response>")
    return "".join(parts)


def render_error(error: BerthError, request_id: str, namespace: str) -> str:
    side = "Receiver" if error.status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{side}</Type>'
        f"<Code>{escape(error_code(error))}</Code><Message>{escape(error.message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )


def _members(shape: Shape, values: Mapping[str, Any]) -> str:
    parts = []
    for name, member in shape.members.items():
        value = values.get(name)
        if value is None:
            continue
        tag = member.serialization.get("name", name)
        parts.append(f"<{tag}>{_value(member, value)}</{tag}>")
    return "".join(parts)


def _value(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return _members(shape, value)
    if kind == "list":
        return "".join(f"<member>{_value(shape.member, item)}</member>" for item in value)
    if kind == "map":
        return "".join(
            f"<entry><key>{escape(str(k))}</key><value>{_value(shape.value, v)}</value></entry>"
            for k, v in value.items()
        )
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return _timestamp(value)
    text = str(value)
    if shape.name in _POLICY_DOCUMENTS:
        text = quote(text, safe="")
    return escape(text)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
