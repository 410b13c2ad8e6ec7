"""Backup and restore of a data directory: metadata (SQLite) and blobs, in one tar file.

The archive holds ``berth-backup.json`` (what it is), ``data/`` (the account id, root credentials
and master key files: the backup holds secrets), ``meta/berth.db`` (a consistent copy made with
SQLite's online backup API, so a running server need not stop) and ``blobs/<alg>/<hex>`` (read
and written through the blob store, so any storage driver works). PostgreSQL is refused: use
``pg_dump``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rich.progress import Progress

from berth.cli.local import open_services, sqlite_path
from berth.settings import Settings
from berth.types import Digest

if TYPE_CHECKING:
    from berth.services import Services

__all__ = ["DATA_FILES", "BackupError", "backup", "restore_blobs", "restore_files"]

DATA_FILES = ("account-id", "root-credentials.json", "master.key")
_MANIFEST = "berth-backup.json"
_DATABASE = "meta/berth.db"
_PIECE = 1024 * 1024


class BackupError(ValueError):
    pass


def _database(settings: Settings) -> Path:
    path = sqlite_path(settings)
    if path is None:
        raise BackupError(
            "the metadata is in PostgreSQL: back it up with pg_dump (for example "
            "`pg_dump --format=custom --file=berth.dump DATABASE_URL`) and restore it with "
            "pg_restore; `berth admin backup` copies SQLite metadata only"
        )
    return path


def _copy_sqlite(source: Path, target: Path, progress: Progress) -> None:
    task = progress.add_task("metadata", total=None)

    def step(status: int, remaining: int, total: int) -> None:
        progress.update(task, total=total, completed=total - remaining)

    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=256, progress=step)
    src.close()
    dst.close()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


async def _add_blobs(services: Services, archive: tarfile.TarFile, progress: Progress) -> int:
    task = progress.add_task("blobs", total=None)
    count = 0
    async for digest in services.blobs.list_blobs():
        name = f"blobs/{digest.algorithm}/{digest.hex}"
        path = services.blobs.local_path(digest)
        if path is not None:
            archive.add(path, arcname=name, recursive=False)
        else:
            await _add_streamed(services, archive, digest, name)
        count += 1
        progress.advance(task)
    progress.update(task, total=count)
    return count


async def _add_streamed(
    services: Services, archive: tarfile.TarFile, digest: Digest, name: str
) -> None:
    with tempfile.TemporaryFile() as spool:
        async for piece in services.blobs.read_blob(digest):
            spool.write(piece)
        info = tarfile.TarInfo(name)
        info.size = spool.tell()
        spool.seek(0)
        archive.addfile(info, spool)


async def backup(settings: Settings, target: Path, progress: Progress) -> dict[str, object]:
    """Write the archive to ``target`` (via a temporary file, renamed when complete)."""
    database = _database(settings)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w") as archive:
            for name in DATA_FILES:
                path = settings.data_dir / name
                if path.is_file():
                    _add_bytes(archive, f"data/{name}", path.read_bytes())
            with tempfile.TemporaryDirectory() as scratch:
                copy = Path(scratch) / "berth.db"
                _copy_sqlite(database, copy, progress)
                archive.add(copy, arcname=_DATABASE, recursive=False)
            async with open_services(settings) as services:
                blobs = await _add_blobs(services, archive, progress)
            summary: dict[str, object] = {
                "format": 1,
                "account": settings.account_id,
                "created": datetime.now(UTC).isoformat(),
                "database": "sqlite",
                "blobs": blobs,
            }
            _add_bytes(archive, _MANIFEST, json.dumps(summary, indent=2).encode(), 0o644)
        os.chmod(partial, 0o600)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return summary


# -- restore ---------------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    parts = Path(name).parts
    if name.startswith("/") or ".." in parts:
        raise BackupError(f"the archive holds an unsafe path: {name!r}")
    return name


def restore_files(settings: Settings, source: Path, progress: Progress) -> int:
    """Put the data files and the database in place; the number of blobs the archive holds."""
    database = _database(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    blobs = 0
    found_database = False
    with tarfile.open(source, "r:*") as archive:
        task = progress.add_task("files", total=None)
        for member in archive:
            name = _safe_name(member.name)
            if name.startswith("blobs/"):
                blobs += 1
            elif name == _DATABASE:
                _extract(archive, member, database)
                found_database = True
            elif name.startswith("data/") and name[5:] in DATA_FILES:
                _extract(archive, member, settings.data_dir / name[5:])
            progress.advance(task)
    if not found_database:
        raise BackupError(f"{source} is not a Berth backup (no {_DATABASE})")
    return blobs


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    handle = archive.extractfile(member)
    if handle is None:
        raise BackupError(f"{member.name} is not a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        _copy(handle, out.write)
    partial.replace(target)


def _copy(handle: IO[bytes], write: Callable[[bytes], object]) -> None:
    while piece := handle.read(_PIECE):
        write(piece)


async def _pieces(handle: IO[bytes]) -> AsyncIterator[bytes]:
    while piece := handle.read(_PIECE):
        yield piece


async def restore_blobs(settings: Settings, source: Path, total: int, progress: Progress) -> int:
    """Write each blob through the blob store, its digest verified; the number written."""
    task = progress.add_task("blobs", total=total)
    written = 0
    async with open_services(settings) as services:
        with tarfile.open(source, "r:*") as archive:
            for member in archive:
                if not member.name.startswith("blobs/"):
                    continue
                algorithm, _, encoded = member.name[len("blobs/") :].partition("/")
                await _restore_blob(
                    services, archive, member, Digest.parse(f"{algorithm}:{encoded}")
                )
                written += 1
                progress.advance(task)
    return written


async def _restore_blob(
    services: Services, archive: tarfile.TarFile, member: tarfile.TarInfo, digest: Digest
) -> None:
    if await services.blobs.blob_size(digest) == member.size:
        return
    handle = archive.extractfile(member)
    if handle is None:
        raise BackupError(f"{member.name} is not a file")
    hasher = hashlib.new(digest.algorithm)
    upload_id = f"restore-{digest.hex[:32]}-{os.getpid()}"
    state = await services.blobs.start_upload(upload_id)
    state = await services.blobs.append_upload(upload_id, state, _pieces(handle), hasher.update)
    if hasher.hexdigest() != digest.hex:
        await services.blobs.abort_upload(upload_id, state)
        raise BackupError(f"{member.name} does not match its digest: the archive is damaged")
    await services.blobs.commit_upload(upload_id, state, digest)
    await services.blobs.abort_upload(upload_id, state)
