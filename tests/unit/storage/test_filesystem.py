"""What the filesystem store's pipelined appends promise beyond the BlobStore contract."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from berth.errors import StorageError
from berth.storage import FilesystemBlobStore, UploadState, filesystem
from berth.storage.direct import BLOCK, STAGING_SIZE, open_direct
from berth.storage.layout import upload_key
from pagecache import require_droppable_cache, resident_bytes

PIECE = filesystem.PIECE_SIZE


def pattern(size: int, seed: int = 0) -> bytes:
    period = bytes((seed + i * 7) % 251 for i in range(251))
    return (period * (size // 251 + 1))[:size]


async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        await anyio.lowlevel.checkpoint()
        yield part


async def read_all(store: FilesystemBlobStore, upload_id: str, state: UploadState) -> bytes:
    return b"".join([piece async for piece in store.read_upload(upload_id, state)])


@pytest.fixture(params=["direct", "buffered"])
def writes(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """How appends write (``O_DIRECT`` or through the page cache): the ``os`` function they use."""
    if request.param == "buffered":
        monkeypatch.setattr(filesystem, "open_direct", lambda path: None)
        return "writev"
    probe = tmp_path / "direct-probe"
    probe.touch()
    fd = open_direct(probe)
    if fd is None:
        pytest.skip(f"the filesystem under {tmp_path} has no O_DIRECT")
    os.close(fd)
    return "pwrite"


@pytest.fixture
def store(tmp_path: Path, writes: str) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "store")


@pytest.fixture
def buffered_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FilesystemBlobStore:
    monkeypatch.setattr(filesystem, "open_direct", lambda path: None)
    return FilesystemBlobStore(tmp_path / "store")


async def test_observer_sees_every_piece_in_order(store: FilesystemBlobStore) -> None:
    data = pattern(5 * PIECE + 12345)
    seen: list[bytes] = []

    def slow_observer(chunk: bytes) -> None:
        time.sleep(0.001)
        seen.append(chunk)

    state = await store.start_upload("ordered")
    chunks = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    state = await store.append_upload("ordered", state, stream(chunks), slow_observer)
    assert b"".join(seen) == data
    assert await read_all(store, "ordered", state) == data


async def test_cancelled_append_keeps_the_acknowledged_size(store: FilesystemBlobStore) -> None:
    state = await store.start_upload("cut")
    state = await store.append_upload("cut", state, stream([b"acknowledged"]))
    writing = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield pattern(PIECE, 1)
        writing.set()
        await anyio.sleep_forever()
        yield b"never"

    async with anyio.create_task_group() as group:

        async def append() -> None:
            await store.append_upload("cut", state, endless())

        group.start_soon(append)
        await writing.wait()
        group.cancel_scope.cancel()
    assert await read_all(store, "cut", state) == b"acknowledged"
    state = await store.append_upload("cut", state, stream([b"+more"]))
    assert await read_all(store, "cut", state) == b"acknowledged+more"
    assert (store.root / upload_key("cut")).stat().st_size == len(b"acknowledged+more")


async def test_a_failed_write_is_a_storage_error(
    store: FilesystemBlobStore, writes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = await store.start_upload("full")
    state = await store.append_upload("full", state, stream([b"acknowledged"]))
    write = getattr(os, writes)
    calls = 0

    def disk_full(*args: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        return int(write(*args))

    monkeypatch.setattr(os, writes, disk_full)
    with pytest.raises(StorageError, match="No space left on device"):
        await store.append_upload("full", state, stream([pattern(PIECE)] * 8))
    monkeypatch.setattr(os, writes, write)
    assert await read_all(store, "full", state) == b"acknowledged"
    state = await store.append_upload("full", state, stream([b"!"]))
    assert await read_all(store, "full", state) == b"acknowledged!"


async def test_nothing_writes_after_a_failed_stream_returns(
    store: FilesystemBlobStore, writes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = getattr(os, writes)
    writing: set[int] = set()

    def slow_write(*args: Any) -> int:
        writing.add(threading.get_ident())
        time.sleep(0.05)
        written = int(write(*args))
        writing.discard(threading.get_ident())
        return written

    async def failing() -> AsyncIterator[bytes]:
        yield pattern(STAGING_SIZE)
        await anyio.sleep(0.01)
        raise OSError("client went away")

    monkeypatch.setattr(os, writes, slow_write)
    state = await store.start_upload("gone")
    with pytest.raises(OSError, match="client went away"):
        await store.append_upload("gone", state, failing())
    assert not writing


async def test_writeback_starts_for_each_piece_but_the_last(
    buffered_store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = buffered_store
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(
        filesystem, "start_writeback", lambda fd, offset, length: started.append((offset, length))
    )
    state = await store.start_upload("wb")
    state = await store.append_upload("wb", state, stream([b"head"]))
    data = pattern(3 * PIECE + 10)
    chunks = [data[i : i + PIECE] for i in range(0, len(data), PIECE)]
    state = await store.append_upload("wb", state, stream(chunks))
    assert started == [(4, PIECE), (4 + PIECE, PIECE), (4 + 2 * PIECE, PIECE)]
    assert await read_all(store, "wb", state) == b"head" + data


async def test_pieces_well_behind_the_writer_are_written_and_dropped_then_the_rest(
    buffered_store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = buffered_store
    behind: list[tuple[int, int]] = []
    dropped: list[tuple[int, int]] = []
    monkeypatch.setattr(filesystem, "WRITE_BEHIND", 2 * PIECE)
    monkeypatch.setattr(
        filesystem,
        "write_behind",
        lambda fd, offset, length: behind.append((offset, length)) or True,
    )
    monkeypatch.setattr(
        filesystem,
        "drop_cached",
        lambda fd, offset, length: dropped.append((offset, length)) or True,
    )
    state = await store.start_upload("wb")
    state = await store.append_upload("wb", state, stream([b"head"]))
    assert (behind, dropped) == ([], [(0, 4)])
    data = pattern(5 * PIECE + 10)
    chunks = [data[i : i + PIECE] for i in range(0, len(data), PIECE)]
    state = await store.append_upload("wb", state, stream(chunks))
    assert behind == [(4, PIECE), (4 + PIECE, PIECE), (4 + 2 * PIECE, PIECE)]
    assert dropped == [(0, 4), (4 + 3 * PIECE, 2 * PIECE + 10)]
    assert await read_all(store, "wb", state) == b"head" + data


async def test_a_range_that_could_not_be_written_behind_is_tried_again(
    buffered_store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = buffered_store
    behind: list[tuple[int, int]] = []
    dropped: list[tuple[int, int]] = []
    monkeypatch.setattr(filesystem, "WRITE_BEHIND", PIECE)
    monkeypatch.setattr(
        filesystem,
        "write_behind",
        lambda fd, offset, length: behind.append((offset, length)) and False,
    )
    monkeypatch.setattr(
        filesystem,
        "drop_cached",
        lambda fd, offset, length: dropped.append((offset, length)) or True,
    )
    state = await store.start_upload("wb")
    data = pattern(3 * PIECE)
    state = await store.append_upload(
        "wb", state, stream([data[:PIECE], data[PIECE : 2 * PIECE], data[2 * PIECE :]])
    )
    assert behind == [(0, PIECE), (0, 2 * PIECE)]
    assert dropped == [(0, 3 * PIECE)]


async def test_an_append_leaves_nothing_of_the_upload_in_the_page_cache(
    store: FilesystemBlobStore, writes: str, tmp_path: Path
) -> None:
    require_droppable_cache(tmp_path)
    size = filesystem.WRITE_BEHIND + 5 * PIECE + 123
    data = pattern(size)
    state = await store.start_upload("cold")
    chunks = [data[i : i + 256 * 1024] for i in range(0, size, 256 * 1024)]
    state = await store.append_upload("cold", state, stream(chunks))
    assert state.size == size
    upload = store.root / upload_key("cold")
    assert resident_bytes(upload) <= (BLOCK if writes == "pwrite" else 0)  # the tail, if direct
    assert await read_all(store, "cold", state) == data


@pytest.mark.parametrize(
    "sizes",
    [
        [1, BLOCK - 1, 1, BLOCK + 1, 3 * PIECE + 5, 7],
        [STAGING_SIZE, STAGING_SIZE + 1, BLOCK, 1],
        [BLOCK * 3, 123_457, STAGING_SIZE - 1],
    ],
)
async def test_appends_of_any_length_at_any_offset_read_back_whole(
    store: FilesystemBlobStore, sizes: list[int]
) -> None:
    state = await store.start_upload("odd")
    expected = b""
    for index, size in enumerate(sizes):
        data = pattern(size, seed=index)
        chunks = [data[i : i + 70_001] for i in range(0, size, 70_001)]
        state = await store.append_upload("odd", state, stream(chunks))
        expected += data
        assert state.size == len(expected)
    assert await read_all(store, "odd", state) == expected
    assert (store.root / upload_key("odd")).stat().st_size == len(expected)
