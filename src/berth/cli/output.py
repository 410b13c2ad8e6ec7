"""Responses printed in the aws CLI's shapes: ``json`` (pretty), ``text`` (tab-separated), ``table``.

``text`` follows awscli's ``text.py`` rule for rule; ``table`` has the layout of awscli's table
formatter (a section per structure, scalar members as columns, nested structures and lists as
indented sub-sections), drawn with rich. Timestamps print as ISO 8601 (the aws CLI v2 default).
"""

from __future__ import annotations

import base64
import io
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

import jmespath  # type: ignore[import-untyped]
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["FORMATS", "emit", "format_text", "render_table", "to_plain"]

FORMATS = ("json", "text", "table")


def to_plain(value: Any) -> Any:
    """A response with datetimes and bytes turned into JSON-able values, metadata dropped."""
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if hasattr(value, "read"):
        return to_plain(value.read())
    return value


def emit(
    title: str, response: Any, output: str, query: str | None = None, stream: IO[str] | None = None
) -> None:
    """Print ``response`` (of operation ``title``) as ``output`` after the ``--query``."""
    data = to_plain(response)
    if query is not None:
        data = jmespath.search(query, data)
    out = stream or sys.stdout
    if output == "text":
        if data is not None:
            format_text(data, out)
    elif output == "table":
        if data:
            out.write(_table_text(title, data, None if out.isatty() else 160))
    elif data != {}:
        out.write(json.dumps(data, indent=4, ensure_ascii=False) + "\n")


def _table_text(title: str, data: Any, width: int | None) -> str:
    buffer = io.StringIO()
    Console(file=buffer, highlight=False, width=width, force_terminal=False).print(
        render_table(title, data)
    )
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


# -- text: awscli's text.py ------------------------------------------------------------------


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _str(value: Any) -> str:
    if value is None:
        return "None"
    return str(value)


def format_text(item: Any, stream: IO[str], identifier: str | None = None) -> None:
    _format(item, stream, identifier, None)


def _format(item: Any, stream: IO[str], identifier: str | None, keys: list[str] | None) -> None:
    if isinstance(item, dict):
        _format_dict(item, stream, identifier, keys)
    elif isinstance(item, list):
        _format_list(item, stream, identifier)
    else:
        stream.write(_str(item) + "\n")


def _format_list(items: list[Any], stream: IO[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(item, dict) for item in items):
        keys = sorted(
            {k for item in items if isinstance(item, dict) for k, v in item.items() if _scalar(v)}
        )
        for item in items:
            _format(item, stream, identifier, keys)
    elif any(isinstance(item, list) for item in items):
        scalars = [item for item in items if _scalar(item)]
        if scalars:
            _format_scalar_list(scalars, stream, identifier)
        for item in items:
            if not _scalar(item):
                _format(item, stream, identifier, None)
    else:
        _format_scalar_list(items, stream, identifier)


def _format_scalar_list(items: list[Any], stream: IO[str], identifier: str | None) -> None:
    if identifier is not None:
        for item in items:
            stream.write(f"{identifier.upper()}\t{_str(item)}\n")
    else:
        stream.write("\t".join(_str(item) for item in items) + "\n")


def _format_dict(
    item: dict[str, Any], stream: IO[str], identifier: str | None, keys: list[str] | None
) -> None:
    scalars: list[str] = []
    nested: list[tuple[str, Any]] = []
    if keys is None:
        for key, value in sorted(item.items()):
            if _scalar(value):
                scalars.append(_str(value))
            else:
                nested.append((key, value))
    else:
        scalars = [_str(item.get(key, "")) for key in keys]
        nested = [(key, item[key]) for key in sorted(set(item) - set(keys))]
    if scalars:
        if identifier is not None:
            scalars.insert(0, identifier.upper())
        stream.write("\t".join(scalars) + "\n")
    for key, value in nested:
        _format(value, stream, key, None)


# -- table: awscli's table layout, drawn by rich -------------------------------------------------


def _keys(item: dict[str, Any]) -> tuple[list[str], list[str]]:
    headers = sorted(k for k, v in item.items() if _scalar(v))
    more = sorted(k for k, v in item.items() if not _scalar(v))
    return headers, more


def _table(title: str | None, headers: list[str] | None = None) -> Table:
    table = Table(
        title=title,
        box=box.ASCII2,
        show_header=bool(headers),
        title_style="bold",
        min_width=len(title or "") + 4,
    )
    for header in headers or ():
        table.add_column(header)
    return table


def render_table(title: str, data: Any, depth: int = 0) -> RenderableType:
    """awscli's table layout: a titled section per structure, sub-sections indented."""
    parts: list[RenderableType] = []
    if isinstance(data, dict):
        parts += _dict_section(title, data, depth)
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        parts += _list_section(title, data, depth)
    elif isinstance(data, list):
        table = _table(title)
        for item in data:
            table.add_row(*([_str(v) for v in item] if isinstance(item, list) else [_str(item)]))
        parts.append(table)
    else:
        table = _table(title)
        table.add_row(_str(data))
        parts.append(table)
    return Padding(Group(*parts), (0, 0, 0, 2 if depth else 0))


def _dict_section(title: str, data: dict[str, Any], depth: int) -> list[RenderableType]:
    headers, more = _keys(data)
    parts: list[RenderableType] = []
    if len(headers) == 1:
        table = _table(title)
        table.add_row(headers[0], _str(data[headers[0]]))
        parts.append(table)
    elif headers:
        table = _table(title, ["Field", "Value"])
        for header in headers:
            table.add_row(header, _str(data[header]))
        parts.append(table)
    else:
        parts.append(Text(title, style="bold"))
    parts += [render_table(key, data[key], depth + 1) for key in more if data[key]]
    return parts


def _list_section(title: str, items: list[Any], depth: int) -> list[RenderableType]:
    dicts = [item for item in items if isinstance(item, dict)]
    headers = sorted({k for item in dicts for k, v in item.items() if _scalar(v)})
    more = sorted({k for item in dicts for k, v in item.items() if not _scalar(v)})
    if len(headers) > 4 or more:
        parts: list[RenderableType] = []
        for item in dicts:
            parts += _dict_section(title, item, depth)
        return parts
    table = _table(title, headers)
    for item in dicts:
        table.add_row(*[_str(item.get(header, "")) for header in headers])
    return [table]
