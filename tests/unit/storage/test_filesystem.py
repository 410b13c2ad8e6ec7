"""What the filesystem store's pipelined appends promise beyond the BlobStore contract."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from berth.errors import StorageError
from berth.storage import FilesystemBlobStore, UploadState, filesystem
from berth.storage.layout import upload_key

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


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
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
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = await store.start_upload("full")
    state = await store.append_upload("full", state, stream([b"acknowledged"]))
    writev = os.writev
    calls = 0

    def disk_full(fd: int, buffers: list[memoryview]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        return writev(fd, buffers)

    monkeypatch.setattr(os, "writev", disk_full)
    with pytest.raises(StorageError, match="No space left on device"):
        await store.append_upload("full", state, stream([pattern(PIECE)] * 8))
    monkeypatch.setattr(os, "writev", writev)
    assert await read_all(store, "full", state) == b"acknowledged"
    state = await store.append_upload("full", state, stream([b"!"]))
    assert await read_all(store, "full", state) == b"acknowledged!"


async def test_nothing_writes_after_a_failed_stream_returns(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    writev = os.writev
    writing: set[int] = set()

    def slow_writev(fd: int, buffers: list[memoryview]) -> int:
        writing.add(threading.get_ident())
        time.sleep(0.05)
        written = writev(fd, buffers)
        writing.discard(threading.get_ident())
        return written

    async def failing() -> AsyncIterator[bytes]:
        yield pattern(PIECE)
        await anyio.sleep(0.01)
        raise OSError("client went away")

    monkeypatch.setattr(os, "writev", slow_writev)
    state = await store.start_upload("gone")
    with pytest.raises(OSError, match="client went away"):
        await store.append_upload("gone", state, failing())
    assert not writing


async def test_writeback_starts_for_each_piece_but_the_last(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
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


@pytest.mark.parametrize(
    "sizes",
    [
        [1, 4095, 1, 4097, 3 * PIECE + 5, 7],
        [2 * PIECE, 2 * PIECE + 1, 4096, 1],
        [4096 * 3, 123_457, 2 * PIECE - 1],
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


async def test_a_failed_write_stops_the_pieces_queued_behind_it(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = await store.start_upload("stop")
    writev = os.writev
    written: list[int] = []

    def fails_once(fd: int, buffers: list[memoryview]) -> int:
        if not written:
            written.append(0)
            time.sleep(0.05)  # the pieces behind it queue meanwhile
            raise OSError(5, "Input/output error")
        written.append(sum(len(buffer) for buffer in buffers))
        return writev(fd, buffers)

    monkeypatch.setattr(os, "writev", fails_once)
    with pytest.raises(StorageError, match="Input/output error"):
        await store.append_upload("stop", state, stream([pattern(PIECE)] * 6))
    assert written == [0]
    assert (store.root / upload_key("stop")).stat().st_size == 0


async def test_nothing_writes_after_a_cancelled_append_returns(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    writev = os.writev
    writing: set[int] = set()
    started = threading.Event()

    def slow_writev(fd: int, buffers: list[memoryview]) -> int:
        writing.add(threading.get_ident())
        started.set()
        time.sleep(0.2)
        written = writev(fd, buffers)
        writing.discard(threading.get_ident())
        return written

    monkeypatch.setattr(os, "writev", slow_writev)
    state = await store.start_upload("cancelled")
    with anyio.move_on_after(0.05) as scope:
        await store.append_upload("cancelled", state, stream([pattern(PIECE)] * 8))
    assert scope.cancelled_caught
    assert started.is_set()
    assert not writing


async def test_an_append_waits_for_the_disk_well_behind_the_writer(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    waited: list[tuple[int, int]] = []
    monkeypatch.setattr(filesystem, "WRITE_BEHIND", 2 * PIECE)
    monkeypatch.setattr(
        filesystem,
        "wait_for_writeback",
        lambda fd, offset, length: waited.append((offset, length)) or len(waited) != 2,
    )
    state = await store.start_upload("behind")
    state = await store.append_upload("behind", state, stream([b"head"]))
    data = pattern(6 * PIECE + 10)
    chunks = [data[i : i + PIECE] for i in range(0, len(data), PIECE)]
    state = await store.append_upload("behind", state, stream(chunks))
    # the second wait is refused, so the third covers its range again
    assert waited == [
        (4, PIECE),
        (4 + PIECE, PIECE),
        (4 + PIECE, 2 * PIECE),
        (4 + 3 * PIECE, PIECE),
    ]
    assert await read_all(store, "behind", state) == b"head" + data
