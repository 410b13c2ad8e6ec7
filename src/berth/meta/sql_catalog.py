"""CatalogReader over SQL: each listing in a fixed number of set-based queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from berth.meta.catalog import ImageSummary, RepositorySort, RepositorySummary
from berth.meta.schema import manifest_references, manifests, repositories, tags
from berth.meta.sql_common import AnyRow, contains_any_case

__all__ = ["SqlCatalogReader"]

_r, _m, _mr, _t = repositories, manifests, manifest_references, tags
_BLOB, _MANIFEST = "blob", "manifest"


def _stats(ids: Any) -> Any:
    """Per repository (of ``ids``, when given): image count and last push."""
    query = select(
        _m.c.repository_id,
        func.count().label("image_count"),
        func.max(_m.c.pushed_at).label("last_pushed_at"),
    )
    if ids is not None:
        query = query.where(_m.c.repository_id.in_(ids))
    return query.group_by(_m.c.repository_id).subquery("stats")


def _sizes(ids: Any) -> Any:
    """Per repository (of ``ids``, when given): the bytes of the distinct blobs it references."""
    distinct = select(
        _mr.c.repository_id, _mr.c.child_digest, func.max(_mr.c.size).label("size")
    ).where(_mr.c.kind == _BLOB)
    if ids is not None:
        distinct = distinct.where(_mr.c.repository_id.in_(ids))
    grouped = distinct.group_by(_mr.c.repository_id, _mr.c.child_digest).subquery("blobs")
    return (
        select(grouped.c.repository_id, func.sum(grouped.c.size).label("total_size"))
        .group_by(grouped.c.repository_id)
        .subquery("sizes")
    )


def _summaries(ids: Any = None) -> tuple[Select[Any], dict[RepositorySort, ColumnElement[Any]]]:
    """Summaries with their sort keys; ``ids`` (a subquery of ids) limits the work to those."""
    stats, sizes = _stats(ids), _sizes(ids)
    count = func.coalesce(stats.c.image_count, 0)
    size = func.coalesce(sizes.c.total_size, 0)
    query = (
        select(
            _r.c.id,
            _r.c.name,
            _r.c.created_at,
            _r.c.tag_mutability,
            count.label("image_count"),
            size.label("total_size"),
            stats.c.last_pushed_at,
        )
        .select_from(_r)
        .outerjoin(stats, stats.c.repository_id == _r.c.id)
        .outerjoin(sizes, sizes.c.repository_id == _r.c.id)
    )
    if ids is not None:
        query = query.where(_r.c.id.in_(ids))
    keys = {
        RepositorySort.NAME: _r.c.name,
        RepositorySort.IMAGES: count,
        RepositorySort.SIZE: size,
        RepositorySort.PUSHED: func.coalesce(stats.c.last_pushed_at, _r.c.created_at),
    }
    return query, keys


def _summary(row: AnyRow) -> RepositorySummary:
    return RepositorySummary(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        tag_mutability=row.tag_mutability,
        image_count=int(row.image_count),
        total_size=int(row.total_size),
        last_pushed_at=row.last_pushed_at,
    )


def _searched(query: Select[Any], search: str) -> Select[Any]:
    return query.where(contains_any_case(_r.c.name, search)) if search else query


class SqlCatalogReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def repositories(
        self, *, search: str, sort: RepositorySort, descending: bool, offset: int, limit: int
    ) -> list[RepositorySummary]:
        ids = None
        if sort is RepositorySort.NAME:  # the page is known before any aggregate: sum only it
            name = _r.c.name.desc() if descending else _r.c.name.asc()
            ids = _searched(select(_r.c.id), search).order_by(name).offset(offset).limit(limit)
            offset = 0
        query, keys = _summaries(None if ids is None else ids.scalar_subquery())
        key = keys[sort]
        order = [key.desc() if descending else key.asc(), _r.c.name]
        query = _searched(query, search).order_by(*order).offset(offset).limit(limit)
        async with self._engine.connect() as conn:
            return [_summary(row) for row in await conn.execute(query)]

    async def repository(self, name: str) -> RepositorySummary | None:
        query, _ = _summaries(select(_r.c.id).where(_r.c.name == name).scalar_subquery())
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _summary(row)

    async def images(
        self, repository_id: int, *, tag: str, offset: int, limit: int
    ) -> list[ImageSummary]:
        query = select(_m).where(_m.c.repository_id == repository_id)
        if tag:
            tagged = select(_t.c.digest).where(
                _t.c.repository_id == repository_id, contains_any_case(_t.c.name, tag)
            )
            query = query.where(_m.c.digest.in_(tagged))
        query = query.order_by(_m.c.pushed_at.desc(), _m.c.digest).offset(offset).limit(limit)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
            digests = [row.digest for row in rows]
            names = await _tags_of(conn, repository_id, digests)
            sizes = await _image_sizes(conn, repository_id, digests)
        return [_image(row, names.get(row.digest, ()), sizes.get(row.digest, 0)) for row in rows]

    async def image_sizes(self, repository_id: int, digests: Sequence[str]) -> dict[str, int]:
        async with self._engine.connect() as conn:
            return await _image_sizes(conn, repository_id, digests)


def _image(row: AnyRow, names: tuple[str, ...], size: int) -> ImageSummary:
    return ImageSummary(
        digest=row.digest,
        media_type=row.media_type,
        artifact_type=row.artifact_type,
        subject=row.subject,
        manifest_size=row.size,
        size=size,
        pushed_at=row.pushed_at,
        last_pulled_at=row.last_pulled_at,
        tags=names,
    )


async def _tags_of(
    conn: AsyncConnection, repository_id: int, digests: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    if not digests:
        return {}
    query = (
        select(_t.c.digest, _t.c.name)
        .where(_t.c.repository_id == repository_id, _t.c.digest.in_(digests))
        .order_by(_t.c.name)
    )
    found: dict[str, list[str]] = defaultdict(list)
    for row in await conn.execute(query):
        found[row.digest].append(row.name)
    return {digest: tuple(names) for digest, names in found.items()}


async def _layer_sizes(
    conn: AsyncConnection, repository_id: int, digests: Sequence[str]
) -> dict[str, int]:
    """Layer bytes per image manifest: its blob references other than its config."""
    if not digests:
        return {}
    joined = and_(_m.c.repository_id == _mr.c.repository_id, _m.c.digest == _mr.c.manifest_digest)
    not_config = or_(_m.c.config_digest.is_(None), _mr.c.child_digest != _m.c.config_digest)
    query = (
        select(_mr.c.manifest_digest, func.sum(_mr.c.size).label("size"))
        .select_from(_mr.join(_m, joined))
        .where(_mr.c.repository_id == repository_id, _mr.c.manifest_digest.in_(digests))
        .where(_mr.c.kind == _BLOB, not_config)
        .group_by(_mr.c.manifest_digest)
    )
    return {row.manifest_digest: int(row.size) for row in await conn.execute(query)}


async def _image_sizes(
    conn: AsyncConnection, repository_id: int, digests: Sequence[str]
) -> dict[str, int]:
    """Layer bytes per manifest; an index takes its largest child's."""
    sizes = await _layer_sizes(conn, repository_id, digests)
    query = select(_mr.c.manifest_digest, _mr.c.child_digest).where(
        _mr.c.repository_id == repository_id,
        _mr.c.manifest_digest.in_(digests),
        _mr.c.kind == _MANIFEST,
    )
    children: dict[str, list[str]] = defaultdict(list)
    for row in await conn.execute(query):
        children[row.manifest_digest].append(row.child_digest)
    if not children:
        return sizes
    wanted = sorted({child for found in children.values() for child in found})
    child_sizes = await _layer_sizes(conn, repository_id, wanted)
    for index, found in children.items():
        sizes[index] = max((child_sizes.get(child, 0) for child in found), default=0)
    return sizes
